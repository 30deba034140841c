import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor, Principal } from '../accounts/index.ts';
import { AppError } from '../errors.ts';
import { bearerToken, passesCsrf, sessionFromCookie } from './console-session.ts';
import { credentialRefusal, type CredentialCheck } from './credential-check.ts';
import { isPublicRoute } from './public-routes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** The console session's token, when the request was authenticated by its cookie. */
    consoleSession?: string;
  }
}

/** The authenticated caller; routes behind the auth hook always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('UNAUTHORIZED');
  return request.principal;
}

export function actorOf(request: FastifyRequest): Actor & { userId: string } {
  return { userId: principalOf(request).user.id, ip: request.ip };
}

/** A preHandler for admin-only routes. */
export async function requireAdmin(request: FastifyRequest): Promise<void> {
  if (!principalOf(request).user.admin) throw new AppError('FORBIDDEN', 'Only an admin may do this.');
}

/**
 * The auth hook: every route outside the public list needs a valid bearer token or the console's
 * session cookie. It runs on onRequest, before the body is read, so an unauthenticated client
 * cannot make the server parse anything. The credential is checked before the failure limiter
 * (see `CredentialCheck`, which also decides what counts as a failure): a valid one always passes.
 */
export function installAuth(app: FastifyInstance, deps: { credentials: CredentialCheck; sessionCookie: string }): void {
  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url;
    if (route === undefined || isPublicRoute(request.method, route)) return; // unknown routes answer 404
    // A bearer token; otherwise the console's session cookie (also when the header holds a
    // proxy's Basic credentials, which browsers add by themselves).
    const bearer = bearerToken(request.headers.authorization);
    const cookie = bearer ? undefined : sessionFromCookie(request, deps.sessionCookie);
    if (!bearer && !cookie) throw new AppError('UNAUTHORIZED'); // not a guess: CredentialCheck would not count it either
    const result = await deps.credentials.check(bearer ? bearer.token : cookie, {
      kind: bearer ? 'token' : 'cookie',
      ip: request.ip,
      route,
      log: request.log,
    });
    if (!result.ok) {
      // A cookie that does not work goes, ended or never issued alike (the answer does not say which).
      if (cookie) reply.clearCookie(deps.sessionCookie, { path: '/', secure: deps.sessionCookie.startsWith('__Host-') });
      throw credentialRefusal(
        result,
        reply,
        cookie ? 'The console session has ended: sign in again.' : 'The token is invalid, expired or revoked, or its user is disabled.',
      );
    }
    if (cookie) {
      if (!passesCsrf(request, cookie)) throw new AppError('CSRF_FAILED');
      request.consoleSession = cookie;
    }
    request.principal = result.principal;
  });
}
