import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FaultPoint } from '../fault-injection.ts';
import { loadCatalogue } from '../integrations/index.ts';
import { loadModelPrices, type ContextWindowSettings, type LanguageModelSettings } from '../providers/index.ts';
import { customToolApprovals } from './approval-settings.ts';
import type { Settings } from './settings.ts';
import { commaItems } from './value-schemas.ts';

/** The typed configuration every service receives: settings grouped by the part that uses them, paths resolved. */
export type Config = ReturnType<typeof toConfig>;

/**
 * Turns validated settings into the `Config` the services read: relative paths resolved against
 * `cwd`, derived values (the public URL, the allowed origins) filled in, the integrations
 * catalogue loaded (its ${NAME} variables from `env`).
 */
export function toConfig(raw: Settings, cwd: string, env: NodeJS.ProcessEnv) {
  const dataDir = path.resolve(cwd, raw.AGENTRY_DATA_DIR);
  const endpoints = raw.MODEL_ENDPOINTS.map(({ name, value }) => ({
    name,
    baseUrl: value,
    apiKey: raw.MODEL_ENDPOINT_KEYS.find((k) => k.name === name)?.value,
  }));
  const publicUrl = (raw.PUBLIC_URL ?? `http://${raw.HOST.includes(':') ? `[${raw.HOST}]` : raw.HOST}:${raw.PORT}`).replace(/\/$/, '');
  return {
    port: raw.PORT,
    host: raw.HOST,
    publicUrl,
    trustProxy: parseTrustProxy(raw.TRUST_PROXY),
    dataDir,
    database: raw.DATABASE_URL
      ? ({ driver: 'postgres', url: raw.DATABASE_URL } as const)
      : ({ driver: 'pglite', dataDir: path.join(dataDir, 'pglite') } as const),
    pool: {
      max: raw.DATABASE_POOL_MAX,
      timeoutMs: raw.DATABASE_POOL_TIMEOUT_MS,
      statementTimeoutMs: raw.DATABASE_STATEMENT_TIMEOUT_MS,
    },
    autoMigrate: raw.AGENTRY_AUTO_MIGRATE,
    secretKey: raw.AGENTRY_SECRET_KEY,
    adminEmail: raw.AGENTRY_ADMIN_EMAIL,
    logLevel: raw.LOG_LEVEL,
    bodyLimit: raw.BODY_LIMIT_BYTES,
    http: {
      requestTimeoutMs: raw.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: raw.HTTP_HEADERS_TIMEOUT_MS,
      maxConnections: raw.HTTP_MAX_CONNECTIONS,
      maxConnectionsPerAddress: raw.HTTP_MAX_CONNECTIONS_PER_ADDRESS,
    },
    metricsEnabled: raw.METRICS_ENABLED,
    features: {
      knowledgeBase: raw.FEATURE_KNOWLEDGE_BASE,
      integrations: raw.FEATURE_INTEGRATIONS,
      chatAutoExecute: raw.FEATURE_CHAT_AUTO_EXECUTE,
    },
    knowledge: {
      embeddingModel: raw.EMBEDDING_MODEL,
      embedders: {
        openai: { apiKey: raw.OPENAI_API_KEY, baseUrl: raw.OPENAI_BASE_URL },
        endpoints,
        dimensions: raw.EMBEDDING_DIMENSIONS,
        retry: { attempts: raw.EMBEDDING_MAX_ATTEMPTS, baseDelayMs: 500, maxDelayMs: 30_000 },
      },
      storageDir: path.resolve(cwd, raw.KB_STORAGE_DIR ?? path.join(dataDir, 'documents')),
      maxUploadBytes: raw.KB_MAX_UPLOAD_BYTES,
      chunkSize: raw.KB_CHUNK_SIZE,
      chunkOverlap: Math.min(raw.KB_CHUNK_OVERLAP, Math.floor(raw.KB_CHUNK_SIZE / 2)),
      readers: {
        workers: raw.KB_WORKERS,
        timeoutMs: raw.KB_READ_TIMEOUT_MS,
        memoryMb: raw.KB_READ_MEMORY_MB,
        maxInflatedBytes: raw.KB_MAX_INFLATED_BYTES,
        maxTextChars: raw.KB_MAX_TEXT_CHARS,
      },
    },
    models: {
      defaultModel: raw.DEFAULT_MODEL,
      openai: { apiKey: raw.OPENAI_API_KEY, baseUrl: raw.OPENAI_BASE_URL },
      anthropic: { apiKey: raw.ANTHROPIC_API_KEY, baseUrl: raw.ANTHROPIC_BASE_URL?.replace(/\/+$/, '') },
      google: { apiKey: raw.GOOGLE_GENERATIVE_AI_API_KEY, baseUrl: raw.GOOGLE_BASE_URL?.replace(/\/+$/, '') },
      endpoints,
      timeoutMs: raw.MODEL_TIMEOUT_MS,
      retry: { attempts: raw.MODEL_MAX_RETRIES + 1, baseDelayMs: 500, maxDelayMs: 30_000 },
      prices: loadModelPrices({
        shipped: fileURLToPath(new URL('../../../config/model-prices.yaml', import.meta.url)),
        custom: raw.MODEL_PRICES && path.resolve(cwd, raw.MODEL_PRICES),
        defaultPrice: raw.DEFAULT_MODEL_PRICE,
      }),
    } satisfies LanguageModelSettings,
    integrations: {
      // Its ${NAME} variables come from the environment only (client secrets stay out of files).
      catalogue: loadCatalogue(
        raw.INTEGRATIONS_CATALOGUE
          ? path.resolve(cwd, raw.INTEGRATIONS_CATALOGUE)
          : fileURLToPath(new URL('../../../config/integrations.yaml', import.meta.url)),
        env,
        {
          allowUserUrls: raw.INTEGRATIONS_ALLOW_USER_MCP_URLS,
        },
      ),
      timeoutMs: raw.INTEGRATIONS_TIMEOUT_MS,
      attempts: raw.INTEGRATIONS_MAX_RETRIES + 1,
      maxResponseBytes: raw.INTEGRATIONS_MAX_RESPONSE_BYTES,
      healthIntervalMs: raw.INTEGRATIONS_HEALTH_INTERVAL_MS,
      outboundAllowList: commaItems(raw.OUTBOUND_ALLOWED_HOSTS),
    },
    templates: {
      promptCacheMaxEntries: raw.PROMPT_CACHE_MAX_ENTRIES,
      matchThreshold: raw.TEMPLATE_MATCH_THRESHOLD,
      matchEmbeddingModel: raw.TEMPLATE_MATCH_EMBEDDING_MODEL,
    },
    sessions: {
      checkpointRetention: raw.SESSION_CHECKPOINT_RETENTION,
      leaseTtlMs: raw.SESSION_LEASE_TTL_MS,
      recoveryIntervalMs: raw.SESSION_RECOVERY_INTERVAL_MS,
      maxRecoveries: raw.SESSION_MAX_RECOVERIES,
      retentionDays: raw.SESSION_RETENTION_DAYS,
      killAt: commaItems(raw.FAULT_INJECTION_KILL_AT) as FaultPoint[],
      maxSteps: raw.SESSION_MAX_STEPS,
      contextWindows: {
        configured: raw.MODEL_CONTEXT_WINDOWS,
        defaultWindow: raw.DEFAULT_CONTEXT_WINDOW,
        outputReserve: raw.MODEL_OUTPUT_RESERVE,
      } satisfies ContextWindowSettings,
      spendLimitMonthlyUsd: raw.SPEND_LIMIT_MONTHLY_USD,
      customTools: commaItems(raw.CUSTOM_TOOLS).map((file) => path.resolve(cwd, file)),
    },
    triggers: {
      tickMs: raw.TRIGGER_TICK_MS,
      leaseTtlMs: raw.TRIGGER_LEASE_TTL_MS,
      maxInFlight: raw.TRIGGER_MAX_IN_FLIGHT,
      webhookMaxBytes: raw.WEBHOOK_MAX_BYTES,
      secretGraceMs: raw.WEBHOOK_SECRET_GRACE_HOURS * 3_600_000,
    },
    approvals: {
      timeoutMs: raw.APPROVAL_TIMEOUT,
      customTools: customToolApprovals(raw.CUSTOM_TOOL_APPROVALS),
    },
    rateLimits: {
      default: raw.RATE_LIMIT_DEFAULT,
      promptGeneration: raw.RATE_LIMIT_PROMPT_GENERATION,
      knowledgeSearch: raw.RATE_LIMIT_KNOWLEDGE_SEARCH,
      integrationDiscovery: raw.RATE_LIMIT_INTEGRATION_DISCOVERY,
      authFailures: raw.AUTH_FAILURE_LIMIT,
    },
    tokenCacheTtlMs: raw.TOKEN_CACHE_TTL_MS,
    consoleSessionDays: raw.CONSOLE_SESSION_DAYS,
    shutdownTimeoutMs: raw.SHUTDOWN_TIMEOUT_MS,
    events: { retentionDays: raw.EVENTS_RETENTION_DAYS, streamMaxLifetimeMs: raw.EVENT_STREAM_MAX_LIFETIME_MS },
    websocket: {
      allowedOrigins: raw.WS_ALLOWED_ORIGINS
        ? raw.WS_ALLOWED_ORIGINS.split(',')
            .map((o) => o.trim().replace(/\/$/, ''))
            .filter(Boolean)
        : [new URL(publicUrl).origin],
      maxConnectionsPerUser: raw.WS_MAX_CONNECTIONS_PER_USER,
      maxPayloadBytes: raw.WS_MAX_PAYLOAD_BYTES,
      maxMessagesPerSecond: raw.WS_MAX_MESSAGES_PER_SECOND,
      maxBufferedBytes: raw.WS_MAX_BUFFERED_BYTES,
    },
    serverSentEvents: { maxStreamsPerUser: raw.SSE_MAX_STREAMS_PER_USER },
    chatCompletions: { maxWaitMs: raw.CHAT_COMPLETIONS_MAX_WAIT_MS },
    observability: {
      modelHealth: { intervalMs: raw.MODEL_HEALTH_INTERVAL_MS, timeoutMs: raw.MODEL_HEALTH_TIMEOUT_MS },
      traces: {
        endpoint: raw.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, ''),
        captureContent: raw.OTEL_CAPTURE_CONTENT,
        serviceName: raw.OTEL_SERVICE_NAME,
      },
    },
  };
}

/** The rate-limit groups a route can name (failed authentications are counted per address, apart). */
export type RateLimitGroup = Exclude<keyof Config['rateLimits'], 'authFailures'>;

function parseTrustProxy(value: string): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (value === 'true') return true;
  if (value === 'false' || value === '') return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return (_address, hop) => hop < hops;
  }
  return commaItems(value);
}
