import { describe, expect, it } from 'vitest';
import { withRetries, type RetryPolicy } from './retry.ts';

/** A run that fails `failures` times, then answers; with the times (ms since the first call) of each attempt. */
function flaky(failures: number) {
  const started = performance.now();
  const at: number[] = [];
  const run = async (attempt: number) => {
    at.push(performance.now() - started);
    if (attempt <= failures) throw new Error(`failure ${attempt}`);
    return 'answer';
  };
  return { run, at, gaps: () => at.slice(1).map((t, i) => t - at[i]!) };
}

const policy: RetryPolicy = { attempts: 3, baseDelayMs: 40, maxDelayMs: 1_000 };
const always = () => ({ retry: true });

describe('withRetries', () => {
  it('retries with a doubling backoff, scaled by the jitter', async () => {
    const whole = flaky(2);
    await expect(withRetries(policy, whole.run, always, { random: () => 1 })).resolves.toBe('answer');
    const [first, second] = whole.gaps();
    expect(first).toBeGreaterThanOrEqual(39);
    expect(second).toBeGreaterThanOrEqual(79);

    const none = flaky(2);
    await expect(withRetries(policy, none.run, always, { random: () => 0 })).resolves.toBe('answer');
    expect(Math.max(...none.gaps())).toBeLessThan(30);

    // Without jitter, the whole backoff whatever the random source says.
    const steady = flaky(1);
    await withRetries({ ...policy, jitter: 'none' }, steady.run, always, { random: () => 0 });
    expect(steady.gaps()[0]).toBeGreaterThanOrEqual(39);
  });

  it('waits what the server asked for, up to the longest delay', async () => {
    const asked = flaky(1);
    await withRetries(policy, asked.run, () => ({ retry: true, afterMs: 60 }), { random: () => 0 });
    expect(asked.gaps()[0]).toBeGreaterThanOrEqual(59);

    const capped = flaky(1);
    await withRetries({ ...policy, maxDelayMs: 20 }, capped.run, () => ({ retry: true, afterMs: 60_000 }));
    expect(capped.gaps()[0]).toBeLessThan(1_000);
  });

  it('gives up with the last failure when told to or out of attempts', async () => {
    const refused = flaky(5);
    await expect(withRetries(policy, refused.run, () => ({ retry: false }))).rejects.toThrow('failure 1');
    expect(refused.at).toHaveLength(1);

    const spent = flaky(5);
    await expect(withRetries(policy, spent.run, always, { random: () => 0 })).rejects.toThrow('failure 3');
    expect(spent.at).toHaveLength(3);
  });

  it('ends a wait when the caller aborts, with the abort reason', async () => {
    const cancel = new AbortController();
    const slow = flaky(5);
    const started = performance.now();
    setTimeout(() => cancel.abort('cancelled by the user'), 30);
    await expect(
      withRetries({ ...policy, baseDelayMs: 60_000, maxDelayMs: 60_000 }, slow.run, always, { signal: cancel.signal, random: () => 1 }),
    ).rejects.toBe('cancelled by the user');
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(slow.at).toHaveLength(1);
  });
});
