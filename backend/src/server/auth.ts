import type { FastifyInstance, FastifyRequest } from 'fastify';
import { recordAudit, type Actor, type Principal, type TokenService } from '../accounts/index.ts';
import type { PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';
import { bearerToken, passesCsrf, sessionFromCookie } from './console-session.ts';
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
 * Counts failed authentications per client address in fixed one-minute windows. Past the limit
 * every attempt from that address answers 429 until the window ends, and the burst is written to
 * the audit log once. Per instance, like every in-memory limit.
 */
export class AuthFailureLimiter {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until the address may try again, or 0 when it may now. */
  retryAfter(ip: string): number {
    const window = this.current(ip);
    return window && window.failures >= this.limit ? Math.ceil((window.start + 60_000 - this.now()) / 1000) : 0;
  }

  /** Records a failure; true exactly when this one reaches the limit (a burst to audit). */
  fail(ip: string): boolean {
    const window = this.current(ip) ?? { start: this.now(), failures: 0 };
    window.failures += 1;
    this.windows.set(ip, window);
    if (this.windows.size > 10_000) this.sweep();
    return window.failures === this.limit;
  }

  private current(ip: string) {
    const window = this.windows.get(ip);
    return window && this.now() - window.start < 60_000 ? window : undefined;
  }

  private sweep(): void {
    for (const [ip, window] of this.windows) if (this.now() - window.start >= 60_000) this.windows.delete(ip);
  }
}

/**
 * The auth hook: every route outside the public list needs a valid bearer token. It runs on
 * onRequest, before the body is read, so an unauthenticated client cannot make the server parse
 * anything.
 */
export function installAuth(app: FastifyInstance, deps: { tokens: TokenService; database: PostgresDatabase; limiter: AuthFailureLimiter; sessionCookie: string }): void {
  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url;
    if (route === undefined || isPublicRoute(request.method, route)) return; // unknown routes answer 404
    const retryAfter = deps.limiter.retryAfter(request.ip);
    if (retryAfter > 0) {
      reply.header('retry-after', String(retryAfter));
      throw new AppError('RATE_LIMITED', 'Too many failed sign-in attempts from this address; retry later.');
    }
    // A bearer token; otherwise the console's session cookie (also when the header holds a
    // proxy's Basic credentials, which browsers add by themselves).
    const bearer = bearerToken(request.headers.authorization);
    const cookie = bearer ? undefined : sessionFromCookie(request, deps.sessionCookie);
    if (!bearer && !cookie) throw new AppError('UNAUTHORIZED');
    const token = bearer ? bearer.token : cookie;
    const principal = token ? await deps.tokens.authenticate(token) : undefined;
    if (!principal && cookie) {
      // An ended session (expired, or revoked elsewhere) is no guess: it is not counted against
      // the address, and its cookie goes.
      reply.clearCookie(deps.sessionCookie, { path: '/', secure: deps.sessionCookie.startsWith('__Host-') });
      throw new AppError('UNAUTHORIZED', 'The console session has ended: sign in again.');
    }
    if (!principal) {
      if (deps.limiter.fail(request.ip)) {
        await recordAudit(deps.database.db, { action: 'auth.failure_burst', ip: request.ip, details: { route } }).catch((error: Error) =>
          request.log.error({ err: error }, 'could not write the audit log'),
        );
      }
      throw new AppError('UNAUTHORIZED', 'The token is invalid, expired or revoked, or its user is disabled.');
    }
    if (cookie) {
      if (!passesCsrf(request, cookie)) throw new AppError('CSRF_FAILED');
      request.consoleSession = cookie;
    }
    request.principal = principal;
  });
}
