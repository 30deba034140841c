import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Features } from '../../features.ts';
import type { IntegrationService, IntegrationTools } from '../../integrations/index.ts';
import { actorOf, principalOf } from '../auth.ts';
import { bearerToken } from '../console-session.ts';
import type { CredentialCheck } from '../credential-check.ts';
import { idParams } from './schemas.ts';

const connectionSchema = z.object({
  id: z.uuid(),
  provider: z.string(),
  status: z.enum(['connected', 'degraded', 'error', 'disconnected']),
  authType: z.enum(['oauth2', 'api_key', 'none']),
  scopes: z.string().nullable(),
  mcpUrl: z.string().nullable(),
  lastError: z.object({ code: z.string(), message: z.string() }).nullable(),
  connectedAt: z.string(),
  refreshedAt: z.string().nullable(),
  expiresAt: z.string().nullable().describe('When the access token expires; it is renewed before then'),
});
const integrationSchema = z.object({
  provider: z.string(),
  name: z.string(),
  icon: z.string(),
  description: z.string(),
  docs: z.object({ oauth: z.string().optional(), mcp: z.string().optional() }),
  authType: z.enum(['oauth2', 'api_key', 'none']).describe("The integration's own way to connect"),
  methods: z
    .array(
      z.object({
        type: z.enum(['oauth2', 'api_key', 'none']),
        available: z.boolean(),
        unavailableReason: z.string().nullable(),
      }),
    )
    .describe(
      'Every way it can be connected: signing in (oauth2), a key (api_key, sent as apiKey) or nothing; a key works without the OAuth app',
    ),
  apiKey: z
    .object({ label: z.string(), help: z.string().nullable(), docs: z.string().nullable() })
    .nullable()
    .describe('What to ask for when it takes a key, and where to make one'),
  userSuppliedUrl: z.boolean().describe('You give the MCP server URL when connecting'),
  standsIn: z
    .array(z.string())
    .describe(
      'Providers this integration stands in for: its tools carry their names, and templates that require them can run with it (your connection to the real provider wins)',
    ),
  available: z.boolean(),
  unavailableReason: z.string().nullable(),
  connection: connectionSchema.nullable(),
});
const connectBody = z.strictObject({
  apiKey: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .describe('For integrations that take a key: checked against the server first, then stored encrypted and never shown again'),
  mcpUrl: z.string().max(2000).optional().describe('Your MCP server, for integrations that take one'),
});
const discoveredSchema = z.object({
  id: z.uuid(),
  provider: z.string(),
  status: connectionSchema.shape.status,
  tools: z.array(
    z.object({
      name: z.string().describe('provider__tool: what sessions and templates call it'),
      description: z.string(),
      parameters: z.record(z.string(), z.unknown()).describe('JSON Schema of its input'),
      idempotent: z.boolean(),
      flags: z.array(z.string()).describe('description-changed, hidden-instructions'),
    }),
  ),
});
const statsSchema = z.object({
  tool: z.string(),
  provider: z.string(),
  calls: z.number(),
  errors: z.number(),
  p50Ms: z.number(),
  p95Ms: z.number(),
  lastUsedAt: z.string(),
});
const providerParams = z.object({ provider: z.string().max(100) });
const usageBucketSchema = z.object({
  start: z.string().describe('When the bucket starts (UTC hour or midnight)'),
  calls: z.number(),
  errors: z.number(),
  p95Ms: z.number().nullable().describe('95th percentile duration; null when the bucket has no calls'),
});

const dayMs = 86_400_000;
/** The widest range of each bucket size: a chart's worth of bars, not a scan of the whole history. */
const usageRangeDays = { hour: 31, day: 366 } as const;

/** The usage query with its defaults (the last 7 days by day) applied, and its range bounded. */
const usageQuery = z
  .object({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    bucket: z.enum(['hour', 'day']).default('day'),
  })
  .transform((query, context) => {
    const to = query.to ? new Date(query.to) : new Date();
    // By default the last 7 days, from the start of a bucket, so the first bucket is a whole one.
    const size = query.bucket === 'hour' ? dayMs / 24 : dayMs;
    const from = query.from ? new Date(query.from) : new Date(Math.floor((to.getTime() - 7 * dayMs) / size) * size);
    const limit = usageRangeDays[query.bucket];
    if (from >= to) context.addIssue({ code: 'custom', path: ['from'], message: 'must be before to' });
    else if (to.getTime() - from.getTime() > limit * dayMs)
      context.addIssue({ code: 'custom', path: ['from'], message: `must be at most ${limit} days before to for ${query.bucket} buckets` });
    return { from, to, bucket: query.bucket };
  });

/** Integrations: the catalogue, connecting (OAuth or an API key), the OAuth callback, disconnecting. */
export const integrationRoutes: FastifyPluginAsyncZod<{
  integrations: IntegrationService;
  tools: IntegrationTools;
  credentials: CredentialCheck;
  features: Features;
  secureCookies: boolean;
}> = async (app, { integrations, tools, credentials, features, secureCookies }) => {
  app.addHook('preHandler', async () => features.require('integrations'));
  app.get(
    '/v1/integrations',
    {
      schema: {
        tags: ['integrations'],
        summary: 'The integrations this installation offers, with your connection to each',
        response: { 200: z.object({ integrations: z.array(integrationSchema) }) },
      },
    },
    async (request) => ({ integrations: await integrations.list(principalOf(request).user.id) }),
  );

  app.post(
    '/v1/integrations/sandbox/reset',
    {
      schema: {
        tags: ['integrations'],
        summary:
          'Reset your sandbox: its sample mail, calendar and chat are put back (placed at the current time), replacing what you changed there',
        response: {
          200: z.object({
            reset: z.object({ messages: z.number().int(), events: z.number().int(), chatMessages: z.number().int() }),
          }),
        },
      },
    },
    async (request) => ({ reset: await integrations.resetSandbox(principalOf(request).user.id) }),
  );

  app.post(
    '/v1/integrations/:provider/connect',
    {
      schema: {
        tags: ['integrations'],
        summary:
          'Connect an integration: OAuth ones answer with the URL to authorise at; with a key (where taken) or keyless, it connects at once once the server accepts the key',
        params: providerParams,
        body: connectBody.nullish(),
        response: { 200: z.object({ authorizationUrl: z.string() }), 201: z.object({ connection: connectionSchema }) },
      },
    },
    async (request, reply) => {
      const started = await integrations.connect(actorOf(request), request.params.provider, request.body ?? {});
      if (!('authorizationUrl' in started)) return reply.code(201).send(started);
      const { cookieName, value, maxAgeS } = started.browserBinding;
      // Lax: the provider's redirect back is a top-level navigation, which carries it.
      reply.setCookie(cookieName, value, {
        httpOnly: true,
        sameSite: 'lax',
        secure: secureCookies,
        path: '/v1/oauth/callback',
        maxAge: maxAgeS,
      });
      return { authorizationUrl: started.authorizationUrl };
    },
  );

  // Public: the provider sends the user's browser here. The single-use state authorises it; a
  // caller who is signed in as someone else is refused.
  app.get(
    '/v1/oauth/callback',
    {
      schema: {
        tags: ['integrations'],
        summary:
          'Where providers send the browser back after authorising (public); on success it redirects (303) to the console at /integrations?connected=<provider>',
        security: [],
      },
      // The query carries the authorization code and state: the log keeps the path only.
      logSerializers: { req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url.split('?')[0] }) },
    },
    async (request, reply) => {
      // A caller that sends a token must be the user who started. (A browser coming back from the
      // provider sends none, nor the console's SameSite=Strict cookie: the binding cookie decides.)
      // A token that fails counts against the address like any failed credential, and is answered as
      // a valid token of another user would be, never with a 401 or 429 a guesser could read.
      const bearer = bearerToken(request.headers.authorization);
      let callerUserId: string | null | undefined;
      if (bearer) {
        const caller = await credentials.check(bearer.token, {
          kind: 'token',
          ip: request.ip,
          route: '/v1/oauth/callback',
          log: request.log,
        });
        callerUserId = caller.ok ? caller.principal.user.id : null;
      }
      const parameters = new URL(request.url, 'http://callback.invalid').searchParams;
      const { connection, cookieName } = await integrations.completeAuthorization(parameters, {
        browserBinding: (name) => request.cookies[name],
        ...(callerUserId !== undefined ? { callerUserId } : {}),
        ip: request.ip,
      });
      // Back to the console, which says what was connected; See Other makes the browser GET it.
      return reply
        .clearCookie(cookieName, { path: '/v1/oauth/callback' })
        .header('cache-control', 'no-store')
        .redirect(`/integrations?connected=${encodeURIComponent(connection.provider)}`, 303);
    },
  );

  app.delete(
    '/v1/integrations/:id',
    {
      schema: {
        tags: ['integrations'],
        summary: 'Disconnect: revoke the grant at the provider when it can, then delete the credentials',
        params: idParams,
        response: { 200: z.object({ revoked: z.boolean().describe('Whether the provider confirmed the revocation') }) },
      },
    },
    async (request) => {
      const result = await integrations.disconnect(actorOf(request), request.params.id);
      await tools.forget(request.params.id);
      return result;
    },
  );

  app.post(
    '/v1/integrations/discover',
    {
      config: { rateLimitGroup: 'integrationDiscovery' },
      schema: {
        tags: ['integrations'],
        summary: 'Your connections and the tools each offers, from the registry; forceRefresh lists them at the servers first',
        body: z.strictObject({ forceRefresh: z.boolean().optional() }).nullish(),
        response: { 200: z.object({ integrations: z.array(discoveredSchema) }) },
      },
    },
    async (request) => ({ integrations: await tools.discover(principalOf(request).user.id, request.body?.forceRefresh ?? false) }),
  );

  app.get(
    '/v1/integrations/stats',
    {
      schema: {
        tags: ['integrations'],
        summary: 'Per tool: calls, errors, p50/p95 duration and last use, optionally within a date range',
        querystring: z.object({ from: z.iso.datetime({ offset: true }).optional(), to: z.iso.datetime({ offset: true }).optional() }),
        response: { 200: z.object({ tools: z.array(statsSchema) }) },
      },
    },
    async (request) => {
      const { from, to } = request.query;
      return {
        tools: await tools.stats(principalOf(request).user.id, {
          from: from ? new Date(from) : undefined,
          to: to ? new Date(to) : undefined,
        }),
      };
    },
  );

  app.get(
    '/v1/integrations/usage',
    {
      schema: {
        tags: ['integrations'],
        summary:
          'Your tool calls over time: calls, errors and p95 duration per hour or day (by default the last 7 days by day; at most 31 days of hours or 366 of days)',
        querystring: usageQuery,
        response: { 200: z.object({ buckets: z.array(usageBucketSchema) }) },
      },
    },
    async (request) => ({ buckets: await tools.usage(principalOf(request).user.id, request.query) }),
  );
};
