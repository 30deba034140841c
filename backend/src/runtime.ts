import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { TokenService, UserService } from './accounts/index.ts';
import type { Config } from './config.ts';
import { backupDatabase, MigrationRunner, PostgresDatabase } from './database/index.ts';
import { createEventSystem, type EventBus } from './events/index.ts';
import { Features } from './features.ts';
import { faultInjector } from './fault-injection.ts';
import { AgentRunner, ChatBridge, completeSessionTool, loadCustomTools } from './agent/index.ts';
import { ChatCompletions } from './chat-completions/index.ts';
import {
  CredentialVault,
  HealthMonitor,
  IntegrationService,
  IntegrationTools,
  McpClients,
  OutboundGuard,
  SandboxData,
  ToolRegistry,
} from './integrations/index.ts';
import { KnowledgeBase, KnowledgeSearch, knowledgeSearchTool } from './knowledge/index.ts';
import { ModelHealthMonitor, modelHealthTargets, startTracing, type Tracing } from './observability/index.ts';
import { ContextWindows, createEmbedder, createLanguageModels, ModelCatalogue, type Embedder } from './providers/index.ts';
import { parseKeyring, resolveSecretKey } from './secret-key.ts';
import { AgentService, removeFinishedSessions, SessionService } from './sessions/index.ts';
import { completeSessionToolName, loadLibrary, PromptEngine, TemplateMatcher, TemplateService, TemplateStore } from './templates/index.ts';
import type { AppServices } from './server/index.ts';
import { toolSet } from './tools/index.ts';
import { approvalWaitNotifier, createTriggerSystem, NotificationService, type TriggerWorker } from './triggers/index.ts';

export const version: string = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

export interface Runtime extends AppServices {
  /** Checks connections periodically (started with the background workers); `check` runs one now. */
  integrationHealth: HealthMonitor;
  /** Where traces of turns go; `flush` sends what is queued. */
  tracing: Tracing;
  /** Fires schedules, polls and deliveries into runs (started with the background workers); `tick` looks once now. */
  triggerWorker: TriggerWorker;
  close(): Promise<void>;
}

/** Opens the configured database (embedded or server) with the configured pool. */
export function openDatabase(
  config: Config,
  logger: Pick<Logger, 'warn'>,
  purpose: string,
  onEmbeddedExit?: (error: Error) => void,
): Promise<PostgresDatabase> {
  return PostgresDatabase.open(config.database, {
    pool: config.pool,
    purpose,
    onBackgroundError: (error) => logger.warn({ err: error }, 'database connection error'),
    ...(onEmbeddedExit ? { onEmbeddedExit } : {}),
  });
}

/**
 * Applies pending migrations. On an embedded database that already holds data, a backup is
 * written first to AGENTRY_DATA_DIR/backups (the newest three are kept).
 */
export async function migrateAtStart(config: Config, database: PostgresDatabase, logger: Pick<Logger, 'info'>): Promise<void> {
  const migrations = new MigrationRunner(database.db);
  const status = await migrations.status();
  if (status.pending === 0) return;
  if (database.capabilities.selfManagedBackups && !(await migrations.isFresh())) {
    const dir = path.join(config.dataDir, 'backups');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `pre-migrate-${new Date().toISOString().replace(/[:.]/g, '-')}.sql`);
    await backupDatabase(database, file);
    logger.info({ file }, 'backed up the database before migrating');
    pruneBackups(dir, 3);
  }
  const { applied } = await migrations.up();
  logger.info({ applied: applied.map((m) => m.name) }, 'applied migrations');
}

function pruneBackups(dir: string, keep: number): void {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('pre-migrate-') && f.endsWith('.sql'))
    .sort();
  for (const file of files.slice(0, Math.max(0, files.length - keep))) fs.rmSync(path.join(dir, file));
}

/** Wires the services over an open database. Closing the runtime closes the database too. */
export async function createRuntime(
  config: Config,
  database: PostgresDatabase,
  logger: Pick<Logger, 'warn' | 'info'>,
  /** `background: false` (the CLI) starts no workers: no document processing, no turn recovery, no clean-up. */
  options: { now?: () => number; background?: boolean } = {},
): Promise<Runtime> {
  const migrations = new MigrationRunner(database.db);
  const tokens = new TokenService(database, {
    ...options,
    cacheTtlMs: config.tokenCacheTtlMs,
    onBackgroundError: (error) => logger.warn({ err: error }, 'could not record token use'),
  });
  await tokens.start();
  const users = new UserService(database, tokens);
  const events = createEventSystem(database, {
    retentionDays: config.events.retentionDays,
    onError: (error) => logger.warn({ err: error }, 'event delivery error'),
  });
  await events.start();
  const features = new Features(config.features, migrations);
  const { integrations, integrationTools, health, vault } = createIntegrations(config, database, events.bus, logger);
  const knowledge = new KnowledgeBase({
    database,
    bus: events.bus,
    settings: config.knowledge,
    onError: (error, context) => logger.warn({ err: error }, context),
  });
  const knowledgeAvailable = (await features.states()).knowledgeBase.available;
  if (knowledgeAvailable && options.background !== false) await knowledge.start();
  const knowledgeBaseAvailable = async () => (await features.states()).knowledgeBase.available;
  const templates = await createTemplates(
    config,
    database,
    knowledgeBaseAvailable,
    (userId) => integrations.connectedProviders(userId),
    logger,
    options.now,
  );
  const languageModels = createLanguageModels(config.models);
  const tracing = startTracing(config.observability.traces, version);
  const modelHealth = new ModelHealthMonitor({
    targets: modelHealthTargets({ models: config.models, embeddingModel: config.knowledge.embeddingModel }),
    defaultModel: config.models.defaultModel,
    intervalMs: config.observability.modelHealth.intervalMs,
    timeoutMs: config.observability.modelHealth.timeoutMs,
  });
  const modelCatalogue = new ModelCatalogue(config.models, languageModels.prices);
  const customTools = await loadCustomTools(config.sessions.customTools, ['knowledge_search', completeSessionToolName]);
  const checkModel = (id: string) => void languageModels.resolve(id);
  const agents = new AgentService({ database, checkModel, checkTemplate: async (userId, id) => void (await templates.get(userId, id)) });
  // Made before the sessions: an unattended run waiting for approval notifies its user.
  const notifications = new NotificationService({ database, bus: events.bus });
  const sessions = new SessionService({
    database,
    bus: events.bus,
    agents,
    templates,
    knowledgeBaseAvailable,
    defaultModel: () => languageModels.defaultModel,
    checkModel,
    checkpointRetention: config.sessions.checkpointRetention,
    customTools: [...customTools.keys()],
    leases: { instanceId: `${os.hostname()}:${process.pid}`, ttlMs: config.sessions.leaseTtlMs },
    onApprovalWait: approvalWaitNotifier(notifications),
  });
  events.topics.register('session', async (userId, topics) => {
    const owned = await sessions.ownedAmong(
      userId,
      topics.map((topic) => topic.slice('session:'.length)),
    );
    return new Set(topics.filter((topic) => owned.has(topic.slice('session:'.length).toLowerCase())));
  });
  const knowledgeSearch = new KnowledgeSearch(database, knowledge);
  const runner = new AgentRunner({
    sessions,
    turns: sessions.turns,
    models: languageModels,
    maxSteps: config.sessions.maxSteps,
    spendLimitMonthlyUsd: config.sessions.spendLimitMonthlyUsd,
    leases: {
      recoveryIntervalMs: config.sessions.recoveryIntervalMs,
      maxRecoveries: config.sessions.maxRecoveries,
      exclusive: database.capabilities.exclusive,
    },
    reach: faultInjector(config.sessions.killAt),
    onError: (error, context) => logger.warn({ err: error }, context),
    tracer: tracing.tracer,
    contextWindows: new ContextWindows(config.sessions.contextWindows, modelCatalogue),
    approvals: {
      administrator: [...config.integrations.catalogue.approvalRules(), ...config.approvals.customTools],
      timeoutMs: config.approvals.timeoutMs,
    },
    toolsFor: toolSet({
      integrations: integrationTools,
      knowledgeSearch: { name: 'knowledge_search', create: (userId) => knowledgeSearchTool(knowledgeSearch, userId) },
      completeSession: { name: completeSessionToolName, create: () => completeSessionTool() },
      custom: customTools,
    }),
  });
  const triggerSystem = createTriggerSystem({
    notifications,
    database,
    bus: events.bus,
    users,
    sessions,
    agents,
    templates,
    runner,
    vault,
    integrationTools,
    publicUrl: config.publicUrl,
    settings: config.triggers,
    instanceId: `${os.hostname()}:${process.pid}`,
    reach: faultInjector(config.sessions.killAt),
    now: options.now,
    onError: (error, context) => logger.warn({ err: error }, context),
  });
  let cleanupTimer: NodeJS.Timeout | undefined;
  if (options.background !== false) {
    await runner.start();
    triggerSystem.worker.start();
    if (config.integrations.healthIntervalMs > 0) health.start();
    if (config.observability.modelHealth.intervalMs > 0) modelHealth.start();
    // Finished sessions past their retention go, hourly (and with `agentry sessions cleanup`).
    const cleanup = () =>
      void removeFinishedSessions(database, config.sessions.retentionDays).catch((error: unknown) =>
        logger.warn({ err: error }, 'session clean-up failed'),
      );
    cleanup();
    cleanupTimer = setInterval(cleanup, 60 * 60 * 1000);
    cleanupTimer.unref();
  }
  return {
    config,
    database,
    migrations,
    features,
    knowledge,
    knowledgeSearch,
    templates,
    agents,
    sessions,
    runner,
    models: modelCatalogue,
    chat: new ChatBridge({
      templates,
      sessions,
      runner,
      autoExecute: async () => (await features.states()).chatAutoExecute.available,
      today: (timezone) => new Intl.DateTimeFormat('en-CA', { timeZone: timezone }).format(Date.now()),
    }),
    completions: new ChatCompletions({ agents, templates, sessions, runner, bus: events.bus, maxWaitMs: config.chatCompletions.maxWaitMs }),
    users,
    tokens,
    events,
    integrations,
    integrationTools,
    integrationHealth: health,
    triggers: triggerSystem.triggers,
    notifications: triggerSystem.notifications,
    webhooks: triggerSystem.webhooks,
    triggerWorker: triggerSystem.worker,
    modelHealth,
    tracing,
    version,
    async close() {
      clearInterval(cleanupTimer);
      await triggerSystem.worker.stop();
      await runner.stop();
      await modelHealth.stop();
      // After the runner: the spans of the turns it let go are sent too.
      await tracing.close();
      await health.stop();
      await integrationTools.close();
      await integrations.close();
      await knowledge.stop();
      await events.stop();
      await tokens.stop();
      await database.close();
    },
  };
}

/**
 * The integrations area: the connection service (OAuth, vault, outbound guard), one MCP client
 * per connection, the tool registry, the tools the agent loop uses, and the health monitor.
 */
function createIntegrations(config: Config, database: PostgresDatabase, bus: EventBus, logger: Pick<Logger, 'warn'>) {
  const guard = new OutboundGuard({
    allowList: config.integrations.outboundAllowList,
    onRefused: (refusal) => logger.warn(refusal, 'refused an outbound request to a non-public address'),
  });
  const registry = new ToolRegistry(database, bus);
  const onError = (error: unknown, context: string) => logger.warn({ err: error }, context);
  let integrationTools: IntegrationTools | undefined = undefined;
  const sandbox = new SandboxData({ database });
  const vault = new CredentialVault(parseKeyring(resolveSecretKey(config)));
  const integrations = new IntegrationService({
    sandbox,
    database,
    bus,
    registry,
    guard,
    catalogue: config.integrations.catalogue,
    vault,
    publicUrl: config.publicUrl,
    // The clients are made next, with the service's credentials; a key is checked by them.
    checkKey: (entry, key, options) => clients.checkKey(entry, key, options),
    onConnected: (connection) => integrationTools?.reconnected(connection.id),
  });
  const clients: McpClients = new McpClients({
    guard,
    bearer: (target, rejected) => integrationTools!.bearer(target, rejected),
    userToken: (target) => integrations.userToken(target),
    onToolsChanged: (target) => integrationTools?.refreshInBackground(target.connectionId),
    onStreamRefused: (target, error) => integrationTools?.streamRefused(target, error),
    timeoutMs: config.integrations.timeoutMs,
    maxResponseBytes: config.integrations.maxResponseBytes,
    version,
    sandbox,
  });
  // Doubling from 200 ms, never capped within INTEGRATIONS_MAX_RETRIES (10 at most), and no jitter:
  // a server that blinked gets each delay in full to come back.
  const retry = { attempts: config.integrations.attempts, baseDelayMs: 200, maxDelayMs: 200 * 2 ** 9, jitter: 'none' } as const;
  integrationTools = new IntegrationTools({ database, bus, integrations, registry, clients, retry, onError });
  const health = new HealthMonitor({
    database,
    integrations,
    clients,
    intervalMs: config.integrations.healthIntervalMs || 300_000,
    onError,
  });
  return { integrations, integrationTools, health, vault };
}

/** Syncs the built-in library into the database and wires the template service. */
async function createTemplates(
  config: Config,
  database: PostgresDatabase,
  knowledgeBaseAvailable: () => Promise<boolean>,
  connectedIntegrations: (userId: string) => Promise<readonly string[]>,
  logger: Pick<Logger, 'info'>,
  now?: () => number,
): Promise<TemplateService> {
  const store = new TemplateStore(database);
  const synced = await store.syncLibrary(loadLibrary());
  if (synced.added.length + synced.updated.length + synced.retired.length > 0) logger.info(synced, 'synced the built-in templates');
  let matchEmbedder: Promise<Embedder> | undefined;
  return new TemplateService({
    store,
    engine: new PromptEngine({ maxEntries: config.templates.promptCacheMaxEntries, ...(now ? { now } : {}) }),
    matcher: new TemplateMatcher(() => {
      matchEmbedder ??= createEmbedder(config.templates.matchEmbeddingModel, config.knowledge.embedders).catch((error: unknown) => {
        matchEmbedder = undefined;
        throw error;
      });
      return matchEmbedder;
    }),
    knowledgeBaseAvailable,
    connectedIntegrations,
    matchThreshold: config.templates.matchThreshold,
  });
}
