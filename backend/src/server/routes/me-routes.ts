import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { UserService } from '../../accounts/index.ts';
import { principalOf } from '../auth.ts';
import { displayName, publicUserSchema, timeZone } from './schemas.ts';

export const meRoutes: FastifyPluginAsyncZod<{ users: UserService }> = async (app, { users }) => {
  const response = { 200: z.object({ user: publicUserSchema }) };

  app.get('/v1/me', { schema: { tags: ['me'], summary: 'The calling user', response } }, async (request) => ({
    user: await users.get(principalOf(request).user.id),
  }));

  app.patch(
    '/v1/me',
    {
      schema: {
        tags: ['me'],
        summary: 'Change your name or time zone',
        body: z.strictObject({ name: displayName.optional(), timezone: timeZone.optional() }),
        response,
      },
    },
    async (request) => ({ user: await users.updateProfile(principalOf(request).user.id, request.body) }),
  );
};
