import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TokenService } from '../../accounts/index.ts';
import { actorOf, principalOf } from '../auth.ts';
import { idParams, tokenInfoSchema } from './schemas.ts';

/** The caller's own API tokens. */
export const tokenRoutes: FastifyPluginAsyncZod<{ tokens: TokenService }> = async (app, { tokens }) => {
  app.post(
    '/v1/tokens',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Create an API token; the token is shown only in this response',
        body: z.strictObject({ name: z.string().trim().min(1).max(100), expiresInDays: z.number().int().min(1).max(3650).optional() }),
        response: { 201: z.object({ id: z.uuid(), token: z.string(), info: tokenInfoSchema }) },
      },
    },
    async (request, reply) => reply.code(201).send(await tokens.create(principalOf(request).user.id, request.body, actorOf(request))),
  );

  app.get(
    '/v1/tokens',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Your tokens (never their secrets)',
        response: {
          200: z.object({
            tokens: z.array(
              tokenInfoSchema.extend({
                current: z.boolean().describe('The token this request was made with: revoking it signs this caller out'),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const { user, tokenId } = principalOf(request);
      return { tokens: (await tokens.list(user.id)).map((token) => ({ ...token, current: token.id === tokenId })) };
    },
  );

  app.delete(
    '/v1/tokens/:id',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Revoke one of your tokens; it stops working at once',
        params: idParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      await tokens.revoke(principalOf(request).user.id, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );
};
