import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listAudit } from '../../accounts/index.ts';
import type { PostgresDatabase } from '../../database/index.ts';
import { requireAdmin } from '../auth.ts';

const auditRecord = z.object({
  id: z.string(),
  at: z.string(),
  actorUserId: z.string().nullable(),
  action: z.string(),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  ip: z.string().nullable(),
  details: z.unknown(),
});

export const auditRoutes: FastifyPluginAsyncZod<{ database: PostgresDatabase }> = async (app, { database }) => {
  app.get(
    '/v1/audit',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['audit'],
        summary: 'Security-relevant actions, newest first (admin)',
        querystring: z.strictObject({
          limit: z.coerce.number().int().min(1).max(500).default(100),
          before: z
            .string()
            .regex(/^\d{1,18}$/, 'must be an event id')
            .optional()
            .describe('The id of the last entry of the previous page'),
          action: z.string().max(100).optional(),
        }),
        response: { 200: z.object({ entries: z.array(auditRecord), next: z.string().nullable() }) },
      },
    },
    async (request) => {
      const entries = await listAudit(database.db, request.query);
      return { entries, next: entries.length === request.query.limit ? (entries.at(-1)?.id ?? null) : null };
    },
  );
};
