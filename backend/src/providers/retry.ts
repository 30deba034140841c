import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Retries with exponential backoff and full jitter. A server that says when to come back
 * (`Retry-After` in seconds or as a date, or `retry-after-ms`) is believed, up to `maxDelayMs`.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * `full` (the default): each delay is drawn between 0 and its backoff, so callers that failed
   * together do not come back together. `none`: the whole backoff, for a caller of few attempts
   * whose retry must give the server that long to come back.
   */
  jitter?: 'full' | 'none';
}

export interface RetryDecision {
  retry: boolean;
  /** What the server asked for, when it did. */
  afterMs?: number;
}

/**
 * Runs `run` until it succeeds, `decide` says the failure is not worth another attempt, the
 * attempts are spent or `signal` aborts. Throws the last failure, or the signal's reason when it
 * aborts during a delay.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  run: (attempt: number) => Promise<T>,
  decide: (error: unknown) => RetryDecision,
  options: { signal?: AbortSignal; random?: () => number } = {},
): Promise<T> {
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run(attempt);
    } catch (error) {
      const decision = decide(error);
      if (!decision.retry || attempt >= policy.attempts || options.signal?.aborted) throw error;
      const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1)) * (policy.jitter === 'none' ? 1 : random());
      await delay(Math.min(policy.maxDelayMs, decision.afterMs ?? backoff), options.signal);
    }
  }
}

/** Milliseconds a `Retry-After` / `retry-after-ms` header asks for, if it asks. */
export function retryAfterMs(headers: Record<string, string | undefined> | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = Number(headers['retry-after-ms']);
  if (headers['retry-after-ms'] && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers['retry-after'];
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Waits `ms`; an abort ends the wait with the signal's own reason, as an aborted call would. */
async function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
  } catch (error) {
    signal?.throwIfAborted();
    throw error;
  }
}
