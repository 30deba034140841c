import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TokenService } from '../../accounts/index.ts';
import { AppError } from '../../errors.ts';
import { actorOf, principalOf } from '../auth.ts';
import { csrfTokenFor, sessionFromCookie } from '../console-session.ts';
import { credentialRefusal, type CredentialCheck } from '../credential-check.ts';
import { publicUserSchema } from './schemas.ts';

const sessionSchema = z.object({
  user: publicUserSchema,
  csrfToken: z.string().nullable().describe('Send it as x-csrf-token with every change; null when not signed in by cookie'),
});

/** The console's sign-in: an API token traded once for a session cookie; sign-out ends it. */
export const consoleRoutes: FastifyPluginAsyncZod<{
  tokens: TokenService;
  credentials: CredentialCheck;
  sessionDays: number;
  secureCookies: boolean;
  sessionCookie: string;
}> = async (app, { tokens, credentials, sessionDays, secureCookies, sessionCookie }) => {
  // Who is signed in, and the CSRF token, are for this browser only.
  app.addHook('onSend', async (_request, reply) => void reply.header('cache-control', 'no-store'));

  app.post(
    '/v1/console/sign-in',
    {
      schema: {
        tags: ['console'],
        summary: 'Trade an API token for a console session cookie (HttpOnly, SameSite=Strict); public',
        security: [],
        body: z.strictObject({ token: z.string().min(1).max(500) }),
        response: { 200: sessionSchema },
      },
    },
    async (request, reply) => {
      // The token first: a valid one signs in whatever else came from this address.
      const result = await credentials.check(request.body.token, {
        kind: 'token',
        ip: request.ip,
        route: '/v1/console/sign-in',
        log: request.log,
      });
      if (!result.ok) throw credentialRefusal(result, reply, 'The token is invalid, expired or revoked, or its user is disabled.');
      const principal = result.principal;
      // Signing in again ends the session this browser had.
      const previous = sessionFromCookie(request, sessionCookie);
      const previousPrincipal = previous ? await tokens.authenticate(previous) : undefined;
      if (previousPrincipal)
        await tokens.revoke(previousPrincipal.user.id, previousPrincipal.tokenId, { userId: previousPrincipal.user.id, ip: request.ip });
      const session = await tokens.create(
        principal.user.id,
        { name: 'Console session', expiresInDays: sessionDays },
        { userId: principal.user.id, ip: request.ip },
      );
      reply.setCookie(sessionCookie, session.token, {
        httpOnly: true,
        sameSite: 'strict',
        secure: secureCookies,
        path: '/',
        maxAge: sessionDays * 86_400,
      });
      return { user: principal.user, csrfToken: csrfTokenFor(session.token) };
    },
  );

  app.get(
    '/v1/console/session',
    { schema: { tags: ['console'], summary: 'Who is signed in, and the CSRF token for changes', response: { 200: sessionSchema } } },
    async (request) => ({
      user: principalOf(request).user,
      csrfToken: request.consoleSession ? csrfTokenFor(request.consoleSession) : null,
    }),
  );

  app.post(
    '/v1/console/sign-out',
    {
      schema: {
        tags: ['console'],
        summary: 'End the console session: its token is revoked and its sockets close',
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      if (!request.consoleSession)
        throw new AppError(
          'VALIDATION_FAILED',
          'Sign-out ends a console session: this request was not made with one (revoke API tokens at /v1/tokens).',
        );
      await tokens.revoke(principalOf(request).user.id, principalOf(request).tokenId, actorOf(request));
      return reply.clearCookie(sessionCookie, { path: '/', secure: secureCookies }).code(204).send(null);
    },
  );
};
