import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { PostgresDatabase, MigrationRunner } from '../../database/index.ts';
import type { Features } from '../../features.ts';
import type { ModelHealthMonitor } from '../../observability/index.ts';
import { requireAdmin } from '../auth.ts';

const featureState = z.object({ enabled: z.boolean(), available: z.boolean(), reason: z.string().optional() });
const healthStatus = z.enum(['ok', 'down', 'unknown']).describe('unknown only until the first check has answered');
const namedHealth = z.object({ name: z.string(), status: healthStatus });
const healthBody = z.object({
  status: z.enum(['ok', 'unavailable']),
  database: z.object({ driver: z.enum(['pglite', 'postgres']), ok: z.boolean() }),
  migrations: z.object({ pending: z.number(), blocked: z.number() }),
  features: z.object({ knowledgeBase: featureState, integrations: featureState, chatAutoExecute: featureState }),
  models: z
    .object({ default: namedHealth, embedding: namedHealth, providers: z.array(namedHealth) })
    .describe('The model servers, as the last background check found them; details for admins at /v1/admin/health'),
  version: z.string(),
});
const adminHealthBody = z.object({
  checkIntervalMs: z.number().describe('0 when the background checks are off'),
  models: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(['provider', 'embedding']),
      status: healthStatus,
      url: z.string().nullable().describe('The models list asked for; null for the local models'),
      lastCheckedAt: z.string().nullable(),
      latencyMs: z.number().nullable(),
      error: z.string().nullable(),
    }),
  ),
});

export interface HealthDeps {
  database: PostgresDatabase;
  migrations: MigrationRunner;
  features: Features;
  modelHealth: ModelHealthMonitor;
  version: string;
}

/**
 * /health says what works and what does not; /ready says whether to send traffic here (it answers
 * 503 once shutdown begins, like every route). Model servers are in /health by name only, as the
 * background monitor last saw them: they are never checked on a request, and one that is down
 * neither fails /health nor takes the instance out of a load balancer (/ready is the database).
 * Their hosts, keys' effect and errors name internal systems, so only admins see them.
 */
export const healthRoutes: FastifyPluginAsyncZod<HealthDeps> = async (app, deps) => {
  app.get(
    '/health',
    {
      schema: {
        tags: ['system'],
        summary: 'Health of the server, its database, migrations and features',
        security: [],
        response: { 200: healthBody, 503: healthBody },
      },
    },
    async (_request, reply) => {
      const ok = await deps.database.ping();
      const status = ok ? await deps.migrations.status() : undefined;
      const migrations = status ?? { pending: 0, blocked: 0 };
      const unknown = { enabled: false, available: false, reason: 'The database is unavailable.' };
      const features = status
        ? deps.features.fromStatus(status)
        : { knowledgeBase: unknown, integrations: unknown, chatAutoExecute: unknown };
      return reply.code(ok ? 200 : 503).send({
        status: ok ? 'ok' : 'unavailable',
        database: { driver: deps.database.driver, ok },
        migrations: { pending: migrations.pending, blocked: migrations.blocked },
        features,
        models: deps.modelHealth.summary(),
        version: deps.version,
      });
    },
  );

  app.get(
    '/v1/admin/health',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['system'],
        summary: 'Details of the model servers the server depends on: URL, last check, latency, error (admin)',
        response: { 200: adminHealthBody },
      },
    },
    async () => ({ checkIntervalMs: deps.modelHealth.intervalMs, models: deps.modelHealth.details() }),
  );

  const readyBody = z.object({ ready: z.boolean(), reason: z.string().optional() });
  app.get(
    '/ready',
    {
      schema: {
        tags: ['system'],
        summary: 'Whether this instance takes traffic',
        security: [],
        response: { 200: readyBody, 503: readyBody },
      },
    },
    async (_request, reply) => {
      if (!(await deps.database.ping())) return reply.code(503).send({ ready: false, reason: 'database unavailable' });
      return { ready: true };
    },
  );
};
