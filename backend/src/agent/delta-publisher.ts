/**
 * Coalesces streamed text into `message.delta` events: at most one every `intervalMs`, or sooner
 * once `maxChars` are waiting, each with its offset in the message, so a client that resumes
 * rebuilds the text so far exactly. Text never waits longer than the window, even when the model
 * pauses. The first window starts with the coalescer (the model call): a model's first words
 * usually come later and go out at once, and a reply streamed whole within the window goes out
 * with the answer's record (see rest) instead of as deltas of its own.
 */
export class DeltaCoalescer {
  private pending = '';
  private offset = 0;
  private lastSent: number;
  private sending: Promise<void> = Promise.resolve();
  private failure: unknown;
  /** Sends what waits once the window ends, when no more text comes before then. */
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (offset: number, text: string) => Promise<void>,
    private readonly options: { intervalMs: number; maxChars: number; now?: () => number } = { intervalMs: 100, maxChars: 400 },
  ) {
    this.lastSent = this.now();
  }

  push(text: string): void {
    this.pending += text;
    const now = this.now();
    const waited = now - this.lastSent;
    if (this.pending.length >= this.options.maxChars || waited >= this.options.intervalMs) this.flush(now);
    else this.timer ??= setTimeout(() => this.flush(this.now()), this.options.intervalMs - waited);
  }

  /** Sends what is waiting, and resolves once every delta so far is stored; rejects with the first failure. */
  async drain(): Promise<void> {
    this.flush(this.now());
    await this.sending;
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * Resolves once every delta sent so far is stored (rejecting with the first failure) and hands
   * back what is still waiting instead of sending it, for the caller's next write to carry: the
   * text's end then costs no statement of its own. Nothing is left waiting after it.
   */
  async rest(): Promise<{ offset: number; text: string } | undefined> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.sending;
    if (this.failure !== undefined) throw this.failure;
    if (!this.pending) return undefined;
    const rest = { offset: this.offset, text: this.pending };
    this.offset += this.pending.length;
    this.pending = '';
    return rest;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private flush(now: number): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending) return;
    const text = this.pending;
    const offset = this.offset;
    this.pending = '';
    this.offset += text.length;
    this.lastSent = now;
    // A failed send is kept for drain() to report; later deltas are not sent after a gap.
    this.sending = this.sending.then(async () => {
      if (this.failure !== undefined) return;
      try {
        await this.send(offset, text);
      } catch (error) {
        this.failure = error;
      }
    });
  }
}
