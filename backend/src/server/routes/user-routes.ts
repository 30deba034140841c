import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { UserService } from '../../accounts/index.ts';
import { actorOf, requireAdmin } from '../auth.ts';
import { displayName, email, idParams, publicUserSchema, timeZone } from './schemas.ts';

/** Admin-only user management. */
export const userRoutes: FastifyPluginAsyncZod<{ users: UserService }> = async (app, { users }) => {
  app.addHook('preHandler', requireAdmin);

  app.post(
    '/v1/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Create a user and their first token, shown once (admin)',
        body: z.strictObject({ email, name: displayName.optional(), timezone: timeZone.optional(), admin: z.boolean().optional() }),
        response: { 201: z.object({ user: publicUserSchema, token: z.string() }) },
      },
    },
    async (request, reply) => reply.code(201).send(await users.create(request.body, actorOf(request))),
  );

  app.get(
    '/v1/users',
    {
      schema: {
        tags: ['users'],
        summary: 'List users, ordered by email (admin)',
        querystring: z.strictObject({
          limit: z.coerce.number().int().min(1).max(200).default(50),
          after: z.string().max(320).optional().describe('The last email of the previous page'),
        }),
        response: { 200: z.object({ users: z.array(publicUserSchema), next: z.string().nullable() }) },
      },
    },
    async (request) => {
      const list = await users.list(request.query);
      return { users: list, next: list.length === request.query.limit ? (list.at(-1)?.email ?? null) : null };
    },
  );

  app.patch(
    '/v1/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: "Disable or enable a user, or change their admin rights; a disabled user's tokens stop working at once (admin)",
        params: idParams,
        body: z.strictObject({ disabled: z.boolean().optional(), admin: z.boolean().optional(), name: displayName.optional() }),
        response: { 200: z.object({ user: publicUserSchema }) },
      },
    },
    async (request) => ({ user: await users.adminUpdate(actorOf(request), request.params.id, request.body) }),
  );
};
