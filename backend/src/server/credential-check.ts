import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { recordAudit, type Principal, type TokenService } from '../accounts/index.ts';
import type { PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';

/**
 * Counts failed authentications per client address in fixed one-minute windows, so that a burst
 * of guesses gets 429 and is written to the audit log once. Per instance, like every in-memory
 * limit. It is consulted only once a credential has failed (see `CredentialCheck`): a valid
 * credential is never refused by it, so guesses from an address, or from a proxy every user shares,
 * cannot lock the valid users of that address out.
 */
export class AuthFailureLimiter {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until the address's failures are forgiven, or 0 when it is under the limit. */
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
 * How a credential arrived: a token the client sent itself (a bearer header, the WebSocket's first
 * frame, the console's sign-in form), or the console's session cookie, which the browser sends by
 * itself for as long as it has one.
 */
export type CredentialKind = 'token' | 'cookie';

export type CredentialResult =
  | { ok: true; principal: Principal }
  /** `retryAfter` > 0: the address was already past its limit of failures; answer 429 then. */
  | { ok: false; retryAfter: number };

export interface CredentialContext {
  kind: CredentialKind;
  ip: string;
  /** Where it was tried, for the audit entry of a burst. */
  route: string;
  log: FastifyBaseLogger;
}

/**
 * Authentication first, for every way a credential reaches the server: the token is checked, and
 * only a failure consults and feeds the address's failure limiter. Every credential that fails
 * counts (a malformed token too), with two exceptions that are not guesses: no credential at all
 * (absent or empty: a client that has not signed in yet, refused with 401 and never 429), and a
 * session cookie that was issued and has ended (expired, revoked, its user disabled), which a
 * console page still sends and the README promises does not count. A cookie that was never issued
 * is a guess like any other.
 */
export class CredentialCheck {
  constructor(private readonly deps: { tokens: TokenService; limiter: AuthFailureLimiter; database: PostgresDatabase }) {}

  async check(token: string | undefined, context: CredentialContext): Promise<CredentialResult> {
    if (!token) return { ok: false, retryAfter: 0 };
    const verdict = await this.deps.tokens.verify(token);
    if (verdict.principal) return { ok: true, principal: verdict.principal };
    if (context.kind === 'cookie' && verdict.issued) return { ok: false, retryAfter: 0 };
    const retryAfter = this.deps.limiter.retryAfter(context.ip);
    if (this.deps.limiter.fail(context.ip)) {
      await recordAudit(this.deps.database.db, { action: 'auth.failure_burst', ip: context.ip, details: { route: context.route } }).catch(
        (error: Error) => context.log.error({ err: error }, 'could not write the audit log'),
      );
    }
    return { ok: false, retryAfter };
  }
}

/** The answer to a failed credential over HTTP: 429 with Retry-After past the limit, else 401 with `message`. */
export function credentialRefusal(result: { retryAfter: number }, reply: FastifyReply, message: string): AppError {
  if (result.retryAfter === 0) return new AppError('UNAUTHORIZED', message);
  reply.header('retry-after', String(result.retryAfter));
  return new AppError('RATE_LIMITED', 'Too many failed sign-in attempts from this address; retry later.');
}
