import { AppError, isAppErrorCode, type ReportedError } from '../errors.ts';
import type { EventBus, StoredEvent } from '../events/index.ts';

/** A turn's failure as the AppError a client is answered with. */
export function turnError(error: ReportedError | undefined): AppError {
  const { code, message } = error ?? { code: 'INTERNAL', message: 'The turn failed.' };
  return new AppError(isAppErrorCode(code) ? code : 'INTERNAL', message);
}

/** How a followed turn ended, as far as a chat-completion client needs to know. */
export type FollowedEnd =
  | { kind: 'ended'; status: 'completed' | 'cancelled' | 'step_limit' }
  | { kind: 'error'; error: AppError }
  | { kind: 'timeout' }
  | { kind: 'closed' };

/**
 * Follows one turn of one session on the event bus: the assistant's text as it streams
 * (`message.delta`, then each step's `message.completed`), and its end (`turn.ended`). It hears
 * the turn wherever it runs, so a turn another instance resumes after a crash is still followed.
 *
 * It subscribes before the turn opens and ignores the session's events up to the turn's own user
 * message, so the tail of an earlier turn still in the pump is never taken for this one's. The
 * text it hands out, joined, is exactly `answer()`: each step's text after the previous one's,
 * with a blank line between; tool calls are not shown (they run on the server).
 */
export class TurnFollower {
  private readonly unsubscribe: () => void;
  /** Events heard before the turn's user message was known. */
  private early: StoredEvent[] = [];
  private userMessageId: string | undefined;
  private started = false;
  private turnId: string | undefined;
  /** Each assistant message's text so far, in the order the messages began. */
  private readonly texts = new Map<string, string>();
  /** The text handed out so far, joined (what the client has). */
  private emitted = '';
  private readonly listeners = new Set<(text: string) => void>();
  private settle!: (end: FollowedEnd) => void;
  private timer: NodeJS.Timeout | undefined;
  /** Settles once: the turn's end, the time bound, or `close()`. */
  readonly end: Promise<FollowedEnd>;

  constructor(
    bus: EventBus,
    private readonly sessionId: string,
  ) {
    this.end = new Promise((resolve) => (this.settle = resolve));
    this.unsubscribe = bus.subscribe((event) => this.hear(event));
    void this.end.then(() => {
      this.unsubscribe();
      clearTimeout(this.timer);
    });
  }

  /** The turn is open: from its user message on, the session's events are its own. Ends by `timeout` after `maxWaitMs`. */
  follow(turn: { turnId: string; userMessageId: string; maxWaitMs: number }): void {
    this.turnId = turn.turnId;
    this.userMessageId = turn.userMessageId;
    this.timer = setTimeout(() => this.settle({ kind: 'timeout' }), turn.maxWaitMs);
    this.timer.unref();
    const early = this.early;
    this.early = [];
    for (const event of early) this.hear(event);
  }

  /** Calls `listener` with the answer's text so far, then with each new piece of it. */
  onText(listener: (text: string) => void): void {
    if (this.emitted) listener(this.emitted);
    this.listeners.add(listener);
  }

  /** The answer's whole text so far. */
  answer(): string {
    return [...this.texts.values()].filter(Boolean).join('\n\n');
  }

  /** Stops following (the client went away, or the turn never opened); the turn itself goes on. */
  close(): void {
    this.settle({ kind: 'closed' });
  }

  private hear(event: StoredEvent): void {
    if (!('sessionId' in event.data) || event.data.sessionId !== this.sessionId) return;
    if (this.userMessageId === undefined) {
      this.early.push(event);
      return;
    }
    if (!this.started) {
      this.started = event.type === 'message.completed' && event.data.messageId === this.userMessageId;
      return;
    }
    switch (event.type) {
      case 'message.delta': {
        const so = this.texts.get(event.data.messageId) ?? '';
        // Deltas carry their offset: a repeat or an overlap adds only what is new.
        if (event.data.offset <= so.length) this.update(event.data.messageId, so + event.data.text.slice(so.length - event.data.offset));
        break;
      }
      case 'message.completed':
        if (event.data.role === 'assistant') this.update(event.data.messageId, event.data.text);
        break;
      case 'turn.ended':
        if (event.data.turnId !== this.turnId) break;
        if (event.data.status === 'failed') this.settle({ kind: 'error', error: turnError(event.data.error) });
        else this.settle({ kind: 'ended', status: event.data.status });
        break;
      case 'session.status_changed':
        // A tool call whose outcome a crash left unknown pauses the session until the user decides.
        if (event.data.to === 'paused') this.settle({ kind: 'error', error: new AppError('TOOL_OUTCOME_UNKNOWN') });
        break;
    }
  }

  private update(messageId: string, text: string): void {
    this.texts.set(messageId, text);
    const answer = this.answer();
    // A step recorded differently from what it streamed (retried after a crash) cannot be taken back: the client keeps what it has.
    if (!answer.startsWith(this.emitted) || answer.length === this.emitted.length) return;
    const piece = answer.slice(this.emitted.length);
    this.emitted = answer;
    for (const listener of this.listeners) listener(piece);
  }
}
