import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AppError } from './errors.ts';
import { faultPoints, type FaultPoint } from './fault-injection.ts';
import { isAllowListEntry, loadCatalogue } from './integrations/index.ts';
import { keyringProblem } from './secret-key.ts';
import {
  embedderNamePattern,
  endpointNamePattern,
  modelIdPattern,
  modelIdProblem,
  reservedProviderNames,
  type LanguageModelSettings,
} from './providers/index.ts';

/*
 * Every setting Agentry reads, in one place. A setting comes from the environment or from one
 * optional YAML file (AGENTRY_CONFIG, default ./agentry.config.yaml) that uses the same names;
 * the environment wins. Everything is validated once at start: a bad value stops the start with a
 * message that names the setting. The README's configuration table mirrors `settings` (a test
 * checks that every name appears there).
 */

const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes' || v === 'on');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const perMinute = int(1, 1_000_000);

/**
 * A comma-separated list of `name=value` entries naming OpenAI-compatible endpoints. `secret`
 * lists never echo an entry in a message (it may be a key pasted without its name).
 */
const endpointList = (what: 'base URL' | 'key', secret: boolean) =>
  z
    .string()
    .default('')
    .transform((text, ctx) => {
      const entries: Array<{ name: string; value: string }> = [];
      text
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean)
        .forEach((entry, index) => {
          const separator = entry.indexOf('=');
          const name = entry.slice(0, Math.max(separator, 0)).trim();
          const value = entry.slice(separator + 1).trim();
          const shown = secret ? `entry ${index + 1}` : `"${entry}"`;
          if (separator <= 0 || value === '')
            return ctx.addIssue({ code: 'custom', message: `${shown} is not ${what === 'key' ? 'name=key' : 'name=baseUrl'}` });
          if (!endpointNamePattern.test(name))
            return ctx.addIssue({
              code: 'custom',
              message: `"${name}" is not an endpoint name: use lower-case letters, digits and -, starting with a letter`,
            });
          if (reservedProviderNames.includes(name))
            return ctx.addIssue({ code: 'custom', message: `"${name}" is a built-in provider; give the endpoint another name` });
          if (entries.some((e) => e.name === name)) return ctx.addIssue({ code: 'custom', message: `"${name}" appears twice` });
          if (what === 'base URL' && !/^https?:\/\/[^\s/]+/.test(value))
            return ctx.addIssue({ code: 'custom', message: `the base URL of "${name}" must be an http:// or https:// URL` });
          entries.push({ name, value: what === 'base URL' ? value.replace(/\/+$/, '') : value });
        });
      return entries;
    });

export const settings = {
  PORT: int(0, 65535).default(3000).describe('HTTP port.'),
  HOST: z.string().min(1).default('127.0.0.1').describe('Interface to listen on. Use 0.0.0.0 to accept remote connections.'),
  PUBLIC_URL: z
    .url()
    .optional()
    .describe('The URL users reach Agentry at; used for redirects and allowed origins. Default http://HOST:PORT.'),
  TRUST_PROXY: z
    .string()
    .default('false')
    .describe('Trust X-Forwarded-* headers: false, true, a hop count, or a comma-separated list of proxy addresses/CIDRs.'),
  AGENTRY_DATA_DIR: z
    .string()
    .min(1)
    .default('./data')
    .describe('Directory for the embedded database, its backups and the generated secret key.'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .optional()
    .describe('PostgreSQL ≥ 15 connection string. Unset: the embedded database (PGlite) in AGENTRY_DATA_DIR.'),
  DATABASE_POOL_MAX: int(1, 1000)
    .default(10)
    .describe('Maximum connections in the pool for a server database (the embedded one uses one).'),
  DATABASE_POOL_TIMEOUT_MS: int(100, 600_000)
    .default(3000)
    .describe('How long a request waits for a free connection before answering 503 DATABASE_BUSY.'),
  DATABASE_STATEMENT_TIMEOUT_MS: int(0, 3_600_000)
    .default(30_000)
    .describe('PostgreSQL statement_timeout for server deployments (0 = none).'),
  AGENTRY_AUTO_MIGRATE: bool
    .default(true)
    .describe('Apply pending migrations at start (under a lock; embedded databases are backed up first).'),
  AGENTRY_SECRET_KEY: z
    .string()
    .superRefine((value, ctx) => {
      const problem = keyringProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional()
    .describe(
      'Keyring that encrypts stored credentials: a key of at least 32 random bytes (base64), or several as comma-separated id:key with the current one first. Embedded: generated into AGENTRY_DATA_DIR/secret.key on first start. Server deployments must set it.',
    ),
  AGENTRY_ADMIN_EMAIL: z.email().default('admin@localhost').describe('Email of the admin user created on the very first start.'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level.'),
  BODY_LIMIT_BYTES: int(1024, 100 * 1024 * 1024)
    .default(1024 * 1024)
    .describe('Largest accepted request body; larger ones answer 413.'),
  HTTP_REQUEST_TIMEOUT_MS: int(100, 3_600_000)
    .default(120_000)
    .describe(
      'How long a client may take to send a whole request, headers and body; a slower one gets 408 and its connection closes. Producing the answer is not limited by it.',
    ),
  HTTP_HEADERS_TIMEOUT_MS: int(100, 3_600_000)
    .default(20_000)
    .describe("How long a client may take to send a request's headers (at most HTTP_REQUEST_TIMEOUT_MS)."),
  HTTP_MAX_CONNECTIONS: int(1, 1_000_000)
    .default(2000)
    .describe('Open connections the server accepts (WebSockets and event streams included); more are closed at once.'),
  HTTP_MAX_CONNECTIONS_PER_ADDRESS: int(1, 1_000_000)
    .default(100)
    .describe(
      'Open connections one client address may hold; more are closed at once. Not applied to addresses TRUST_PROXY trusts: capping the clients of a proxy is then its job.',
    ),
  METRICS_ENABLED: bool.default(true).describe('Serve Prometheus metrics at /metrics (a public route when enabled).'),
  FEATURE_KNOWLEDGE_BASE: bool.default(true).describe('Knowledge base routes and search.'),
  FEATURE_INTEGRATIONS: bool.default(true).describe('Integrations (MCP servers behind OAuth).'),
  INTEGRATIONS_CATALOGUE: z
    .string()
    .min(1)
    .optional()
    .describe('The integrations catalogue file (YAML). Default: the config/integrations.yaml shipped with Agentry.'),
  INTEGRATIONS_ALLOW_USER_MCP_URLS: bool
    .default(false)
    .describe("Let users connect MCP servers by URL (the catalogue's `url: user` entries); each URL passes the outbound-request guard."),
  OUTBOUND_ALLOWED_HOSTS: z
    .string()
    .default('')
    .refine(
      (text) =>
        text
          .split(',')
          .map((e) => e.trim())
          .filter(Boolean)
          .every(isAllowListEntry),
      'must list addresses, CIDR ranges or host names',
    )
    .describe(
      'Comma-separated addresses, CIDR ranges or host names that outbound requests may reach although they are loopback, private or link-local (refused otherwise).',
    ),
  INTEGRATIONS_TIMEOUT_MS: int(100, 600_000)
    .default(30_000)
    .describe('How long connecting to an MCP server, and each request to it (a tool call, a listing, a ping), may take.'),
  INTEGRATIONS_MAX_RETRIES: int(0, 10)
    .default(2)
    .describe('Retries, with backoff, of a tool call whose MCP server could not be reached or timed out.'),
  INTEGRATIONS_MAX_RESPONSE_BYTES: int(1024, 1024 * 1024 * 1024)
    .default(16 * 1024 * 1024)
    .describe(
      'Largest answer accepted from an MCP server; a larger one fails the call (the model reads at most 32,000 characters of a result). Also the largest event on its notification stream (a larger one closes it).',
    ),
  INTEGRATIONS_HEALTH_INTERVAL_MS: int(0, 86_400_000)
    .default(300_000)
    .describe('How often each connection is checked (token validity and an MCP ping); 0 turns the checks off.'),
  FEATURE_CHAT_AUTO_EXECUTE: bool.default(true).describe('Run a matching template straight from a chat message.'),
  EMBEDDING_MODEL: z
    .string()
    .regex(embedderNamePattern, 'must be provider:model, e.g. local:hashing or openai:text-embedding-3-small')
    .default('local:hashing')
    .describe('Embedding model for the knowledge base. Changing it takes effect after "agentry kb reindex".'),
  EMBEDDING_DIMENSIONS: int(1, 2000)
    .optional()
    .describe("Vector length of a compatible server's embedding model (asked of the server when unset)."),
  EMBEDDING_MAX_ATTEMPTS: int(1, 20).default(5).describe('Attempts per embedding request; 429 and 5xx answers are retried with backoff.'),
  OPENAI_API_KEY: z.string().min(1).optional().describe('API key for openai: models.'),
  OPENAI_BASE_URL: z.url().optional().describe('Base URL of an OpenAI-compatible server (default the OpenAI API).'),
  DEFAULT_MODEL: z
    .string()
    .regex(modelIdPattern, 'must be provider:model, e.g. local:offline, openai:gpt-4o-mini or ollama:llama3.1:8b')
    .default('local:offline')
    .describe(
      'Language model for sessions that name none: local:offline, openai:<model>, or <endpoint>:<model> for an endpoint in MODEL_ENDPOINTS. Checked at start.',
    ),
  MODEL_ENDPOINTS: endpointList('base URL', false).describe(
    'OpenAI-compatible servers (Ollama, vLLM, LM Studio, …) as comma-separated name=baseUrl, e.g. ollama=http://localhost:11434/v1; their models are <name>:<model>.',
  ),
  MODEL_ENDPOINT_KEYS: endpointList('key', true).describe('API keys of MODEL_ENDPOINTS that need one, as comma-separated name=key.'),
  MODEL_TIMEOUT_MS: int(100, 3_600_000)
    .default(60_000)
    .describe(
      'How long a model call may receive nothing (before its answer starts, or between streamed chunks) before it is stopped with MODEL_TIMEOUT.',
    ),
  MODEL_MAX_RETRIES: int(0, 10)
    .default(2)
    .describe('Retries of a model call that failed before any output with 429, 5xx or a lost connection (honouring Retry-After).'),
  KB_STORAGE_DIR: z.string().min(1).optional().describe('Directory for uploaded originals. Default AGENTRY_DATA_DIR/documents.'),
  KB_MAX_UPLOAD_BYTES: int(1024, 1024 * 1024 * 1024)
    .default(20 * 1024 * 1024)
    .describe('Largest accepted document; larger ones answer 413.'),
  KB_CHUNK_SIZE: int(50, 2000).default(500).describe('Default chunk size in tokens (cl100k_base).'),
  KB_CHUNK_OVERLAP: int(0, 1000).default(50).describe('Default overlap between consecutive chunks, in tokens.'),
  KB_WORKERS: int(1, 64)
    .default(2)
    .describe(
      'Document reader processes (reading and chunking); each reads one document at a time, and a user has at most one being read.',
    ),
  KB_READ_TIMEOUT_MS: int(100, 3_600_000)
    .default(60_000)
    .describe(
      'How long reading or chunking one document may take, from when it starts; a slower one fails alone with DOCUMENT_TOO_COMPLEX.',
    ),
  KB_READ_MEMORY_MB: int(128, 65_536)
    .default(1024)
    .describe('Memory of a document reader process, buffers included; a document needing more fails alone with DOCUMENT_TOO_COMPLEX.'),
  KB_MAX_INFLATED_BYTES: int(1024 * 1024, 16 * 1024 * 1024 * 1024)
    .default(128 * 1024 * 1024)
    .describe(
      "Bytes a .docx or PDF may unpack to, counted while unpacking (never trusting what the file declares); past 16 MiB also at most 64 times the file's size.",
    ),
  KB_MAX_TEXT_CHARS: int(1024, 256 * 1024 * 1024)
    .default(20 * 1024 * 1024)
    .describe(
      "Characters a document's extracted text may have (a plain text file's text is its bytes); a longer one is refused with DOCUMENT_TOO_COMPLEX.",
    ),
  PROMPT_CACHE_MAX_ENTRIES: int(1, 1_000_000)
    .default(1000)
    .describe('Rendered prompts kept in memory per instance; the least recently used go first.'),
  TEMPLATE_MATCH_THRESHOLD: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0.8)
    .describe('Confidence at which a chat message starts its matching template directly.'),
  TEMPLATE_MATCH_EMBEDDING_MODEL: z
    .string()
    .regex(embedderNamePattern, 'must be provider:model, e.g. local:hashing or openai:text-embedding-3-small')
    .default('local:hashing')
    .describe('Embedding model for matching chat messages to templates. The confidence curve is fitted for local:hashing.'),
  CUSTOM_TOOLS: z
    .string()
    .default('')
    .describe(
      'Comma-separated paths of tool modules (in-house tools) offered to sessions; each default-exports {name, description, inputSchema, idempotent?, execute}.',
    ),
  SPEND_LIMIT_MONTHLY_USD: z.coerce
    .number()
    .positive()
    .optional()
    .describe(
      'Language-model spend per user per calendar month (UTC), in US dollars; past it, new messages answer 429 QUOTA_EXCEEDED. Unset: no limit.',
    ),
  SESSION_MAX_STEPS: int(1, 100).default(8).describe('Model calls per turn; a turn that keeps calling tools ends with step_limit.'),
  SESSION_CHECKPOINT_RETENTION: int(1, 100_000)
    .default(50)
    .describe('Unnamed checkpoints kept per session (the newest); named ones are always kept.'),
  SESSION_LEASE_TTL_MS: int(1000, 600_000)
    .default(30_000)
    .describe(
      'How long an instance holds a running turn without renewing it (renewed every third of this); an expired lease is reclaimed and the turn resumed.',
    ),
  SESSION_RECOVERY_INTERVAL_MS: int(100, 600_000)
    .default(5000)
    .describe('How often every instance looks for turns whose lease expired, and resumes them (also at start).'),
  SESSION_MAX_RECOVERIES: int(0, 100).default(3).describe('Resumptions of one turn after which its session fails with RECOVERY_EXHAUSTED.'),
  SESSION_RETENTION_DAYS: int(0, 36_500)
    .default(90)
    .describe(
      'Completed and failed sessions inactive this long are removed, with their conversations, checkpoints, ledger and events; 0 keeps them.',
    ),
  FAULT_INJECTION_KILL_AT: z
    .string()
    .default('')
    .refine(
      (value) =>
        value
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean)
          .every((v) => (faultPoints as readonly string[]).includes(v)),
      `must list fault points among ${faultPoints.join(', ')}`,
    )
    .describe(
      `For crash tests only, off by default: the process kills itself (SIGKILL) on reaching any listed point of a turn (${faultPoints.join(', ')}).`,
    ),
  RATE_LIMIT_DEFAULT: perMinute
    .default(600)
    .describe('Requests per minute per user on routes without a group of their own (per instance).'),
  RATE_LIMIT_PROMPT_GENERATION: perMinute.default(100).describe('Prompt generation requests per minute per user (per instance).'),
  RATE_LIMIT_KNOWLEDGE_SEARCH: perMinute.default(60).describe('Knowledge search requests per minute per user (per instance).'),
  RATE_LIMIT_INTEGRATION_DISCOVERY: perMinute.default(10).describe('Integration discovery requests per minute per user (per instance).'),
  AUTH_FAILURE_LIMIT: perMinute.default(20).describe('Failed authentications per minute per client address before 429 (per instance).'),
  CONSOLE_SESSION_DAYS: int(1, 365)
    .default(7)
    .describe('How long a console sign-in lasts; each is a token of its own, listed and revocable with the others.'),
  TOKEN_CACHE_TTL_MS: int(0, 60_000)
    .default(5000)
    .describe('How long a verified token is cached (revocation and disabling evict it at once).'),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000).describe('How long shutdown waits for in-flight requests before closing them.'),
  EVENTS_RETENTION_DAYS: int(1, 3650).default(7).describe('How long events are kept for replay and history.'),
  EVENT_STREAM_MAX_LIFETIME_MS: int(1000, 2 ** 31 - 1)
    .default(86_400_000)
    .describe(
      'How long one event stream (a WebSocket or server-sent events) may stay open, whatever its token; then it ends and its client reconnects and resumes from its last event id.',
    ),
  WS_ALLOWED_ORIGINS: z
    .string()
    .optional()
    .describe('Comma-separated origins a browser may open the WebSocket from. Default: the origin of PUBLIC_URL.'),
  WS_MAX_CONNECTIONS_PER_USER: int(1, 10_000).default(5).describe('WebSocket connections per user (per instance).'),
  SSE_MAX_STREAMS_PER_USER: int(1, 10_000)
    .default(5)
    .describe('Server-sent event streams per user (per instance), counted apart from WebSockets; more answer 429.'),
  WS_MAX_PAYLOAD_BYTES: int(256, 16 * 1024 * 1024)
    .default(64 * 1024)
    .describe('Largest incoming WebSocket frame; larger ones close the socket with 1009.'),
  WS_MAX_MESSAGES_PER_SECOND: int(1, 10_000)
    .default(20)
    .describe('Incoming WebSocket frames per second per connection; more close it with 1008.'),
  WS_MAX_BUFFERED_BYTES: int(1024, 1024 * 1024 * 1024)
    .default(1024 * 1024)
    .describe('Outgoing bytes a slow client may have waiting; more close its socket with 1013 (it resumes with since).'),
} as const;

export type SettingName = keyof typeof settings;

const settingsSchema = z
  .object(settings)
  .strict()
  .superRefine((raw, ctx) => {
    const endpoints = raw.MODEL_ENDPOINTS.map((e) => e.name);
    for (const { name } of raw.MODEL_ENDPOINT_KEYS) {
      if (!endpoints.includes(name))
        ctx.addIssue({ code: 'custom', path: ['MODEL_ENDPOINT_KEYS'], message: `"${name}" is not an endpoint in MODEL_ENDPOINTS` });
    }
    if (raw.HTTP_HEADERS_TIMEOUT_MS > raw.HTTP_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', path: ['HTTP_HEADERS_TIMEOUT_MS'], message: 'must be at most HTTP_REQUEST_TIMEOUT_MS' });
    }
    const problem = modelIdProblem(raw.DEFAULT_MODEL, { openai: Boolean(raw.OPENAI_API_KEY || raw.OPENAI_BASE_URL), endpoints });
    if (problem) ctx.addIssue({ code: 'custom', path: ['DEFAULT_MODEL'], message: problem });
  });

export type Config = ReturnType<typeof toConfig>;

function toConfig(raw: z.output<typeof settingsSchema>, cwd: string, env: NodeJS.ProcessEnv) {
  const dataDir = path.resolve(cwd, raw.AGENTRY_DATA_DIR);
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
      endpoints: raw.MODEL_ENDPOINTS.map(({ name, value }) => ({
        name,
        baseUrl: value,
        apiKey: raw.MODEL_ENDPOINT_KEYS.find((k) => k.name === name)?.value,
      })),
      timeoutMs: raw.MODEL_TIMEOUT_MS,
      retry: { attempts: raw.MODEL_MAX_RETRIES + 1, baseDelayMs: 500, maxDelayMs: 30_000 },
    } satisfies LanguageModelSettings,
    integrations: {
      // Its ${NAME} variables come from the environment only (client secrets stay out of files).
      catalogue: loadCatalogue(
        raw.INTEGRATIONS_CATALOGUE
          ? path.resolve(cwd, raw.INTEGRATIONS_CATALOGUE)
          : fileURLToPath(new URL('../../config/integrations.yaml', import.meta.url)),
        env,
        {
          allowUserUrls: raw.INTEGRATIONS_ALLOW_USER_MCP_URLS,
        },
      ),
      timeoutMs: raw.INTEGRATIONS_TIMEOUT_MS,
      attempts: raw.INTEGRATIONS_MAX_RETRIES + 1,
      maxResponseBytes: raw.INTEGRATIONS_MAX_RESPONSE_BYTES,
      healthIntervalMs: raw.INTEGRATIONS_HEALTH_INTERVAL_MS,
      outboundAllowList: raw.OUTBOUND_ALLOWED_HOSTS.split(',')
        .map((e) => e.trim())
        .filter(Boolean),
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
      killAt: raw.FAULT_INJECTION_KILL_AT.split(',')
        .map((v) => v.trim())
        .filter(Boolean) as FaultPoint[],
      maxSteps: raw.SESSION_MAX_STEPS,
      spendLimitMonthlyUsd: raw.SPEND_LIMIT_MONTHLY_USD,
      customTools: raw.CUSTOM_TOOLS.split(',')
        .map((file) => file.trim())
        .filter(Boolean)
        .map((file) => path.resolve(cwd, file)),
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
  };
}

export type RateLimitGroup = Exclude<keyof Config['rateLimits'], 'authFailures'>;

function parseTrustProxy(value: string): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (value === 'true') return true;
  if (value === 'false' || value === '') return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return (_address, hop) => hop < hops;
  }
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function readConfigFile(file: string, explicit: boolean): Record<string, unknown> {
  if (!fs.existsSync(file)) {
    if (explicit) throw new AppError('CONFIG_INVALID', `AGENTRY_CONFIG points to ${file}, which does not exist.`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new AppError('CONFIG_INVALID', `The config file ${file} is not valid YAML: ${(error as Error).message}`);
  }
  if (parsed == null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new AppError('CONFIG_INVALID', `The config file ${file} must be a mapping of SETTING: value.`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Reads and validates the configuration. Throws `CONFIG_INVALID` naming every bad setting, so a
 * typo in a deployment fails at start instead of at the first request that needs it.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Config {
  const explicitFile = env.AGENTRY_CONFIG;
  const file = path.resolve(cwd, explicitFile ?? 'agentry.config.yaml');
  const fromFile = readConfigFile(file, explicitFile !== undefined);
  const merged: Record<string, unknown> = { ...fromFile };
  for (const name of Object.keys(settings)) {
    const value = env[name];
    if (value !== undefined && value !== '') merged[name] = value;
  }
  const result = settingsSchema.safeParse(merged);
  if (!result.success) {
    const problems = result.error.issues.map((issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown setting${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} in ${file}`
        : `${issue.path.join('.')}: ${issue.message}`,
    );
    throw new AppError('CONFIG_INVALID', `Invalid configuration: ${problems.join('; ')}`, { details: { problems } });
  }
  return toConfig(result.data, cwd, env);
}
