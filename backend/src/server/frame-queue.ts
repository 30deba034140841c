/**
 * One socket's incoming frames, handled one at a time and in order, with a bound on how many may
 * wait. The per-second frame limit bounds how fast frames arrive, not how far a client may run
 * ahead of the answers: when the database is slow, frames that keep coming within that rate would
 * otherwise pile up without end, each holding its payload. `push` refuses a frame past the bound
 * (the caller closes the socket); a frame's failure is reported and the next one still runs.
 */
export class FrameQueue {
  private waiting = 0;
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly options: { maxWaiting: number; onError: (error: unknown) => void }) {}

  /** Queues `handle` behind the frames already waiting; false (and nothing queued) when the queue is full. */
  push(handle: () => Promise<void>): boolean {
    if (this.waiting >= this.options.maxWaiting) return false;
    this.waiting += 1;
    this.tail = this.tail
      .then(handle)
      .catch(this.options.onError)
      .finally(() => (this.waiting -= 1));
    return true;
  }
}
