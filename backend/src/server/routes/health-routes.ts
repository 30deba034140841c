import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { PostgresDatabase, MigrationRunner } from '../../database/index.ts';
import type { Features } from '../../features.ts';

const featureState = z.object({ enabled: z.boolean(), available: z.boolean(), reason: z.string().optional() });
const healthBody = z.object({
  status: z.enum(['ok', 'unavailable']),
  database: z.object({ driver: z.enum(['pglite', 'postgres']), ok: z.boolean() }),
  migrations: z.object({ pending: z.number(), blocked: z.number() }),
  features: z.object({ knowledgeBase: featureState, integrations: featureState, chatAutoExecute: featureState }),
  version: z.string(),
});

export interface HealthDeps {
  database: PostgresDatabase;
  migrations: MigrationRunner;
  features: Features;
  version: string;
}

/**
 * /health says what works and what does not; /ready says whether to send traffic here (it answers
 * 503 once shutdown begins, like every route).
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
        version: deps.version,
      });
    },
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
