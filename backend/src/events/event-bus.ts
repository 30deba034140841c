import { randomUUID } from 'node:crypto';
import type { Executor, PostgresDatabase } from '../database/index.ts';
import type { ChangeExpressions, EventStore, NewEvent, Notification, ReturnedExpressions } from './event-store.ts';
import type { StoredEvent } from './event-types.ts';

export type EventListener = (event: StoredEvent) => void;

/**
 * Publish an event in a transaction; every subscriber hears it, in id order, once that
 * transaction commits. Two doorbells below: in-process for the embedded shape (one process owns
 * the database), and PostgreSQL LISTEN/NOTIFY for several instances on one database. Either way
 * the bus reads the rows itself; a notification is only a doorbell.
 */
export interface EventBus {
  /** Appends the events, in order, to the caller's transaction; returns their ids. */
  publish(executor: Executor, ...events: NewEvent[]): Promise<number[]>;
  /**
   * As `publish`, with `after` the change they report made by the same statement (see
   * ChangeExpressions): no ids when it changed nothing, and then nothing was recorded.
   */
  publishWith(executor: Executor, events: NewEvent[], options: { after?: ChangeExpressions }): Promise<number[]>;
  /**
   * Records and publishes events in one statement of their own, committed when it resolves:
   * events that report progress rather than a change (text deltas), or, with `after`, the change
   * they report, made by the same statement (see ChangeExpressions). Undefined when it changed
   * nothing: then nothing was recorded. Else what `returning` asks of the change (an empty object
   * without it).
   */
  publishAlone<R extends Record<string, unknown> = Record<string, never>>(
    events: NewEvent[],
    options?: { after?: ChangeExpressions; returning?: ReturnedExpressions<R> },
  ): Promise<R | undefined>;
  subscribe(listener: EventListener): () => void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const pageSize = 500;

/**
 * Reads committed events after the last id it delivered and hands them to the listeners. Ids
 * commit in order (see event-store.ts), so "after the last id" never skips one. A listener that
 * throws is reported and the others still hear the event.
 */
class EventPump {
  private lastId = 0;
  private reading: Promise<void> | undefined;
  private again = false;
  private readonly listeners = new Set<EventListener>();

  constructor(
    private readonly store: EventStore,
    private readonly onError: (error: Error) => void,
  ) {}

  async start(): Promise<void> {
    this.lastId = await this.store.latestId();
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Something may have committed: read and deliver it. Calls during a read coalesce into one more read. */
  wake(): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.drain()
      .catch((error: Error) => {
        // Committed events must not wait for the next doorbell: try again shortly.
        this.onError(error);
        setTimeout(() => this.wake(), 1000).unref();
      })
      .finally(() => {
        this.reading = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /**
   * Events this process committed, as it stored them: delivered at once when they follow the last
   * id delivered, with no read back. Anything else (a gap left by another instance's events or by
   * a rolled-back append, a read in progress) is left to a read, which delivers them in order.
   */
  deliver(events: readonly StoredEvent[]): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    const fresh = events.filter((event) => event.id > this.lastId).sort((a, b) => a.id - b.id);
    if (fresh.length === 0) return;
    if (!fresh.every((event, index) => event.id === this.lastId + 1 + index)) return this.wake();
    for (const event of fresh) this.emit(event);
  }

  /** Resolves when the read in progress, if any, is done (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.reading) await this.reading;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const events = await this.store.readAfter(this.lastId, pageSize);
      for (const event of events) this.emit(event);
      if (events.length < pageSize) return;
    }
  }

  private emit(event: StoredEvent): void {
    this.lastId = event.id;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onError(error as Error);
      }
    }
  }
}

/**
 * How the instances that did not publish events learn that they committed. Two implementations,
 * one per deployment shape; the pump that reads and delivers the rows is the same for both, and a
 * publishing process hands its own committed events to its pump without reading them back.
 */
interface Doorbell {
  /** The NOTIFY each publishing transaction sends (PostgreSQL folds repeats), if any. */
  readonly notification: Notification | undefined;
  start(wake: () => void): Promise<void>;
  stop(): Promise<void>;
}

/** The embedded shape: this process owns the database, so nobody else publishes. */
export function inProcessDoorbell(): Doorbell {
  return { notification: undefined, start: async () => undefined, stop: async () => undefined };
}

const doorbellChannel = 'agentry_events';

/**
 * Several instances on one PostgreSQL: a publishing transaction sends NOTIFY with its instance's
 * name and every other instance's pump reads the new rows (its own were delivered at commit).
 * After the listening connection is lost and restored, the pump catches up from the last id it
 * delivered, so nothing is skipped.
 */
export function notifyDoorbell(database: PostgresDatabase): Doorbell {
  const self = randomUUID();
  let unlisten: (() => Promise<void>) | undefined;
  return {
    notification: { channel: doorbellChannel, payload: self },
    async start(wake) {
      unlisten = await database.listen(doorbellChannel, (payload) => payload !== self && wake(), wake);
      wake(); // anything committed between reading the latest id and LISTEN
    },
    stop: async () => unlisten?.(),
  };
}

/** The bus: events go into the log in the publishing transaction; at commit they reach this process's pump, and the doorbell the others'. */
export class PumpedEventBus implements EventBus {
  private readonly pump: EventPump;
  private readonly wake = () => this.pump.wake();
  /** What each open transaction published so far, delivered when it commits. */
  private readonly published = new WeakMap<Executor, StoredEvent[]>();

  constructor(
    private readonly deps: { store: EventStore; doorbell: Doorbell; database: PostgresDatabase; onError: (error: Error) => void },
  ) {
    this.pump = new EventPump(deps.store, deps.onError);
  }

  async publish(executor: Executor, ...events: NewEvent[]): Promise<number[]> {
    return this.publishWith(executor, events, {});
  }

  async publishWith(executor: Executor, events: NewEvent[], options: { after?: ChangeExpressions }): Promise<number[]> {
    if (events.length === 0) return [];
    const { store, doorbell, database } = this.deps;
    let published = this.published.get(executor);
    // One ring per transaction: with its first append.
    const notify = published || !doorbell.notification ? {} : { notify: doorbell.notification };
    const stored = await store.appendStored(executor, events, { ...options, ...notify });
    if (stored.length === 0) return [];
    if (!published) {
      const committed: StoredEvent[] = [];
      published = committed;
      this.published.set(executor, committed);
      database.afterCommit(executor, () => this.pump.deliver(committed));
    }
    published.push(...stored);
    return stored.map((event) => event.id);
  }

  async publishAlone<R extends Record<string, unknown> = Record<string, never>>(
    events: NewEvent[],
    options: { after?: ChangeExpressions; returning?: ReturnedExpressions<R> } = {},
  ): Promise<R | undefined> {
    const { notification } = this.deps.doorbell;
    const stored = await this.deps.store.appendAlone<R>(events, { ...options, ...(notification ? { notify: notification } : {}) });
    this.pump.deliver(stored.events);
    return stored.events.length > 0 ? (stored.returned ?? ({} as R)) : undefined;
  }

  subscribe(listener: EventListener): () => void {
    return this.pump.subscribe(listener);
  }

  async start(): Promise<void> {
    await this.pump.start();
    await this.deps.doorbell.start(this.wake);
  }

  async stop(): Promise<void> {
    await this.deps.doorbell.stop();
    await this.pump.idle();
  }
}
