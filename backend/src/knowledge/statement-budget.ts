/**
 * How many rows the next write statement may hold so that it takes about `targetMs`.
 *
 * On the embedded database one statement holds the only connection and every reader waits for
 * it, and a row's cost varies a hundredfold (an insert into an HNSW index of 20k vectors costs tens
 * of milliseconds a vector; a plain row, a fraction of one). So writers that may write many rows
 * measure what a row cost in their last statement and size the next from it. Until a statement has
 * been measured, it holds one row.
 */
/**
 * The budget of the knowledge base's bulk writes: a reader on the embedded database waits at most
 * about this long for a write in progress (a search takes two turns at the connection).
 */
export const writeStatementLimits = { targetMs: 25, maxRows: 128 } as const;

export class StatementBudget {
  private msPerRow: number;
  /** The rows of the last statement measured: the next holds at most twice as many. */
  private lastRows = 1;

  constructor(private readonly limits: { targetMs: number; maxRows: number }) {
    this.msPerRow = limits.targetMs;
  }

  /**
   * Rows the next statement holds: at least one, at most `maxRows`, and at most twice the last
   * one's, so one cheap statement (rows that cost little, a connection that was free) cannot make
   * the next one long.
   */
  rows(): number {
    return Math.max(1, Math.min(this.limits.maxRows, 2 * this.lastRows, Math.floor(this.limits.targetMs / this.msPerRow)));
  }

  /** Records a statement's cost; the latest decides, so a change of load shows at once. */
  note(ms: number, rows: number): void {
    if (rows === 0) return;
    this.msPerRow = Math.max(0.001, ms / rows);
    this.lastRows = rows;
  }

  /** Runs `write` on `rows` and records what it cost. */
  async measure<T>(rows: number, write: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await write();
    this.note(performance.now() - started, rows);
    return result;
  }
}
