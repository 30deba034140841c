/**
 * Retries with exponential backoff and full jitter. A server that says when to come back
 * (`Retry-After` in seconds or as a date, or `retry-after-ms`) is believed, up to `maxDelayMs`.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface RetryDecision {
  retry: boolean;
  /** What the server asked for, when it did. */
  afterMs?: number;
}

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
      const backoff = random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      await sleep(Math.min(policy.maxDelayMs, decision.afterMs ?? backoff), options.signal);
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

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
