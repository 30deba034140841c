import pg from 'pg';

/** One statement a client sent, as the counter saw it. */
export interface CountedQuery {
  text: string;
  /** Milliseconds from sending it to its answer. */
  ms: number;
}

/**
 * Counts the statements every `pg` client of this process sends (each is one round trip to the
 * database: PGlite is reached over the same wire protocol), from `start()` to `stop()`. For tests
 * and benches that hold the number of round trips of a code path down; product code never uses it.
 */
export function countQueries(): { start(): void; stop(): CountedQuery[]; restore(): void } {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  let seen: CountedQuery[] | undefined;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const result = original.apply(this, args);
    const log = seen;
    if (log && result instanceof Promise) {
      const first = args[0];
      const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '');
      const t0 = performance.now();
      const entry = { text, ms: 0 };
      log.push(entry);
      void result.then(
        () => (entry.ms = performance.now() - t0),
        () => (entry.ms = performance.now() - t0),
      );
    }
    return result;
  };
  return {
    start: () => void (seen = []),
    stop: () => {
      const log = seen ?? [];
      seen = undefined;
      return log;
    },
    restore: () => void (proto.query = original),
  };
}
