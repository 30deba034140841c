import type { Executor, PostgresDatabase } from '../database/index.ts';
import type { EventStore, NewEvent } from './event-store.ts';
import type { StoredEvent } from './event-types.ts';

export type EventListener = (event: StoredEvent) => void;

/**
 * Publish an event in a transaction; every subscriber hears it, in id order, once that
 * transaction commits. Two implementations: in-process for the embedded shape (one process owns
 * the database), and PostgreSQL LISTEN/NOTIFY for several instances on one database. Both read the
 * rows themselves; a notification is only a doorbell.
 */
export interface EventBus {
  publish(executor: Executor, event: NewEvent): Promise<number>;
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

  /** Resolves when the read in progress, if any, is done (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.reading) await this.reading;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const events = await this.store.readAfter(this.lastId, pageSize);
      for (const event of events) {
        this.lastId = event.id;
        for (const listener of this.listeners) {
          try {
            listener(event);
          } catch (error) {
            this.onError(error as Error);
          }
        }
      }
      if (events.length < pageSize) return;
    }
  }
}

/** The embedded shape: this process owns the database, so a commit wakes the pump directly. */
export class InProcessEventBus implements EventBus {
  private readonly pump: EventPump;

  constructor(
    private readonly database: PostgresDatabase,
    private readonly store: EventStore,
    onError: (error: Error) => void,
  ) {
    this.pump = new EventPump(store, onError);
  }

  async publish(executor: Executor, event: NewEvent): Promise<number> {
    const id = await this.store.append(executor, event);
    this.database.afterCommit(executor, () => this.pump.wake());
    return id;
  }

  subscribe(listener: EventListener): () => void {
    return this.pump.subscribe(listener);
  }

  start(): Promise<void> {
    return this.pump.start();
  }

  stop(): Promise<void> {
    return this.pump.idle();
  }
}

const doorbell = 'agentry_events';

/**
 * Several instances on one PostgreSQL: a publishing transaction rings the doorbell (NOTIFY without
 * a payload; PostgreSQL folds repeats, so one per transaction), and every instance's pump reads
 * the new rows. After the listening connection is lost and restored, the pump catches up from the
 * last id it delivered, so nothing is skipped.
 */
export class PostgresEventBus implements EventBus {
  private readonly pump: EventPump;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly database: PostgresDatabase,
    private readonly store: EventStore,
    onError: (error: Error) => void,
  ) {
    this.pump = new EventPump(store, onError);
  }

  async publish(executor: Executor, event: NewEvent): Promise<number> {
    const id = await this.store.append(executor, event);
    await this.database.notify(doorbell, '', executor);
    return id;
  }

  subscribe(listener: EventListener): () => void {
    return this.pump.subscribe(listener);
  }

  async start(): Promise<void> {
    await this.pump.start();
    const wake = () => this.pump.wake();
    this.unlisten = await this.database.listen(doorbell, wake, wake);
    this.pump.wake(); // anything committed between reading the latest id and LISTEN
  }

  async stop(): Promise<void> {
    await this.unlisten?.();
    await this.pump.idle();
  }
}
