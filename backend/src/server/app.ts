import { randomUUID } from 'node:crypto';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { TokenService, UserService } from '../accounts/index.ts';
import type { Config } from '../config.ts';
import type { MigrationRunner, PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';
import type { EventSystem } from '../events/index.ts';
import type { Features } from '../features.ts';
import type { IntegrationService, IntegrationTools } from '../integrations/index.ts';
import type { KnowledgeBase, KnowledgeSearch } from '../knowledge/index.ts';
import type { ModelHealthMonitor } from '../observability/index.ts';
import type { ModelCatalogue } from '../providers/index.ts';
import type { AgentRunner, ChatBridge } from '../agent/index.ts';
import type { ChatCompletions } from '../chat-completions/index.ts';
import type { AgentService, SessionService } from '../sessions/index.ts';
import type { TemplateService } from '../templates/index.ts';
import type { NotificationService, TriggerService, WebhookReceiver } from '../triggers/index.ts';
import { apiDocsPage } from './api-docs-page.ts';
import { installAuth } from './auth.ts';
import { installConsoleFiles } from './console-files.ts';
import { sessionCookieName } from './console-session.ts';
import { AuthFailureLimiter, CredentialCheck } from './credential-check.ts';
import { installBodyDrain } from './body-drain.ts';
import { installErrorHandling, sendError, toAppError } from './error-handler.ts';
import { httpServerOptions, installConnectionCap } from './http-limits.ts';
import { installJsonBodyParser } from './json-body.ts';
import { mcpEndpoint } from './mcp-endpoint.ts';
import { installMetrics } from './metrics.ts';
import { installRateLimits } from './rate-limits.ts';
import { auditRoutes } from './routes/audit-routes.ts';
import { consoleRoutes } from './routes/console-routes.ts';
import { eventRoutes } from './routes/event-routes.ts';
import { healthRoutes } from './routes/health-routes.ts';
import { integrationRoutes } from './routes/integration-routes.ts';
import { knowledgeRoutes } from './routes/knowledge-routes.ts';
import { sessionRoutes } from './routes/session-routes.ts';
import { turnRoutes } from './routes/turn-routes.ts';
import { hookRoutes, notificationRoutes, triggerRoutes } from './routes/trigger-routes.ts';
import { approvalRoutes } from './routes/approval-routes.ts';
import { templateRoutes } from './routes/template-routes.ts';
import { meRoutes } from './routes/me-routes.ts';
import { openaiRoutes } from './routes/openai-routes.ts';
import { modelRoutes } from './routes/model-routes.ts';
import { tokenRoutes } from './routes/token-routes.ts';
import { userRoutes } from './routes/user-routes.ts';
import { isStorableText } from './untrusted-input.ts';
import { installWebSocketGateway } from './websocket-gateway.ts';

export interface AppServices {
  config: Config;
  database: PostgresDatabase;
  migrations: MigrationRunner;
  features: Features;
  users: UserService;
  tokens: TokenService;
  events: EventSystem;
  integrations: IntegrationService;
  integrationTools: IntegrationTools;
  knowledge: KnowledgeBase;
  knowledgeSearch: KnowledgeSearch;
  templates: TemplateService;
  agents: AgentService;
  sessions: SessionService;
  runner: AgentRunner;
  triggers: TriggerService;
  notifications: NotificationService;
  webhooks: WebhookReceiver;
  /** The models this installation can use, for GET /v1/models. */
  models: ModelCatalogue;
  chat: ChatBridge;
  completions: ChatCompletions;
  /** The model servers' health, checked in the background (never on a request). */
  modelHealth: ModelHealthMonitor;
  version: string;
}

export interface AppOptions {
  /** Logger settings, or an existing pino logger to share (the server's own). */
  logger?: FastifyServerOptions['logger'];
  loggerInstance?: FastifyBaseLogger;
  /** The auth-failure limiter's clock, for tests of its window. */
  now?: () => number;
  /** Called for every route as it is registered (the route-table test uses it). */
  onRoute?: (route: { method: string; url: string }) => void;
}

/** Paths whose values never reach a log line. */
export const logRedactions = ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', 'token', '*.token'];

/** A request id a client or proxy sent is kept for correlation only when it looks like one. */
const safeRequestId = /^[A-Za-z0-9._:-]{8,64}$/;

/**
 * Builds the HTTP server: one error handler, the auth hook over everything but the public list,
 * per-user rate limits, metrics, the OpenAPI document, and the routes. Thin: routes parse, call a
 * service and return; services own the rules.
 */
export async function buildApp(services: AppServices, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = services;
  let shuttingDown = false;
  const app = Fastify({
    ...(options.loggerInstance
      ? { loggerInstance: options.loggerInstance }
      : { logger: options.logger ?? { level: config.logLevel, redact: logRedactions } }),
    bodyLimit: config.bodyLimit,
    ...httpServerOptions(config.http),
    trustProxy: config.trustProxy,
    requestIdHeader: false,
    genReqId: (request) => {
      const sent = request.headers['x-request-id'];
      return typeof sent === 'string' && safeRequestId.test(sent) ? sent : randomUUID();
    },
    // Requests Fastify rejects before routing (a malformed URL) answer in our error format too.
    frameworkErrors: (error, _request, reply) => sendError(reply, toAppError(error)),
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true },
  });
  const { onRoute } = options;
  if (onRoute) {
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) onRoute({ method, url: route.url });
    });
  }
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  installJsonBodyParser(app);
  installConnectionCap(app, config.http, config.trustProxy);
  installBodyDrain(app);
  await app.register(cookie);

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (shuttingDown) throw new AppError('SHUTTING_DOWN');
  });
  // From the moment shutdown begins, new requests (on kept-alive connections) answer 503 in our
  // error format, /ready included, while requests already in flight finish.
  app.addHook('preClose', async () => {
    shuttingDown = true;
  });
  // Answers sent during shutdown close their connection: a kept-alive connection that was busy when
  // the server began closing would otherwise hold the process open for its whole keep-alive timeout.
  app.addHook('onSend', async (_request, reply) => {
    if (shuttingDown) reply.header('connection', 'close');
  });
  // A route that declares no body takes none: a body sent anyway is a client mistake to report.
  // Path and query values must be storable text, like every string in a JSON body.
  app.addHook('preValidation', async (request) => {
    for (const values of [request.params, request.query] as unknown[]) {
      for (const value of Object.values((values ?? {}) as Record<string, unknown>).flat()) {
        if (typeof value === 'string' && !isStorableText(value)) throw new AppError('INVALID_TEXT');
      }
    }
    if (request.routeOptions.schema?.body || request.routeOptions.config.ownBody) return;
    const length = Number(request.headers['content-length'] ?? 0);
    if (length > 0 || request.headers['transfer-encoding']) throw new AppError('BODY_NOT_ALLOWED');
  });

  // Cookies are sent over https only when Agentry is reached over https.
  const secureCookies = config.publicUrl.startsWith('https:');
  const limiter = new AuthFailureLimiter(config.rateLimits.authFailures, options.now);
  const credentials = new CredentialCheck({ tokens: services.tokens, limiter, database: services.database });
  const sessionCookie = sessionCookieName(secureCookies);
  installAuth(app, { credentials, sessionCookie });
  await installRateLimits(app, config.rateLimits);
  const registry = installMetrics(app, services.database, services.templates);

  await app.register(swagger, {
    openapi: {
      info: { title: 'Agentry API', version: services.version, description: 'Durable AI agent sessions from workflow templates.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API token: agt_…' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(apiDocsPage);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  if (config.metricsEnabled) {
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
      reply.type(registry.contentType).send(await registry.metrics()),
    );
  }

  await app.register(healthRoutes, {
    database: services.database,
    migrations: services.migrations,
    features: services.features,
    modelHealth: services.modelHealth,
    version: services.version,
  });
  await app.register(meRoutes, { users: services.users });
  await app.register(consoleRoutes, {
    tokens: services.tokens,
    credentials,
    sessionDays: config.consoleSessionDays,
    secureCookies,
    sessionCookie,
  });
  await app.register(tokenRoutes, { tokens: services.tokens });
  await app.register(userRoutes, { users: services.users });
  await app.register(auditRoutes, { database: services.database });
  await app.register(eventRoutes, { events: services.events, tokens: services.tokens, config });
  await app.register(knowledgeRoutes, { knowledge: services.knowledge, search: services.knowledgeSearch, features: services.features });
  await app.register(templateRoutes, { templates: services.templates });
  await app.register(integrationRoutes, {
    integrations: services.integrations,
    tools: services.integrationTools,
    credentials,
    features: services.features,
    secureCookies,
  });
  await app.register(modelRoutes, { models: services.models });
  await app.register(sessionRoutes, { agents: services.agents, sessions: services.sessions });
  await app.register(turnRoutes, { sessions: services.sessions, runner: services.runner, chat: services.chat });
  await app.register(triggerRoutes, { triggers: services.triggers });
  await app.register(notificationRoutes, { notifications: services.notifications });
  await app.register(hookRoutes, { webhooks: services.webhooks, limiter, maxBytes: config.triggers.webhookMaxBytes });
  await app.register(approvalRoutes, { sessions: services.sessions, runner: services.runner });
  await app.register(mcpEndpoint, {
    knowledge: services.knowledge,
    knowledgeSearch: services.knowledgeSearch,
    templates: services.templates,
    sessions: services.sessions,
    runner: services.runner,
    features: services.features,
    version: services.version,
  });
  await app.register(openaiRoutes, { prefix: '/v1/openai', completions: services.completions, config });
  await installWebSocketGateway(app, { config, tokens: services.tokens, events: services.events, credentials, sessionCookie });
  await installConsoleFiles(app);
  return app;
}
