import type { Executor, PostgresDatabase } from '../database/index.ts';
import type { EventStore, NewEvent } from './event-store.ts';
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

/**
 * How a bus learns that events committed. Two implementations, one per deployment shape; the pump
 * that reads and delivers the rows is the same for both.
 */
interface Doorbell {
  /** Called in the publishing transaction. */
  ring(executor: Executor, wake: () => void): Promise<void>;
  start(wake: () => void): Promise<void>;
  stop(): Promise<void>;
}

/** The embedded shape: this process owns the database, so a commit wakes the pump directly. */
export function inProcessDoorbell(database: PostgresDatabase): Doorbell {
  return {
    ring: async (executor, wake) => database.afterCommit(executor, wake),
    start: async () => undefined,
    stop: async () => undefined,
  };
}

const doorbellChannel = 'agentry_events';

/**
 * Several instances on one PostgreSQL: a publishing transaction sends NOTIFY without a payload
 * (PostgreSQL folds repeats, so one per transaction) and every instance's pump reads the new rows.
 * After the listening connection is lost and restored, the pump catches up from the last id it
 * delivered, so nothing is skipped.
 */
export function notifyDoorbell(database: PostgresDatabase): Doorbell {
  let unlisten: (() => Promise<void>) | undefined;
  return {
    ring: (executor) => database.notify(doorbellChannel, '', executor),
    async start(wake) {
      unlisten = await database.listen(doorbellChannel, wake, wake);
      wake(); // anything committed between reading the latest id and LISTEN
    },
    stop: async () => unlisten?.(),
  };
}

/** The bus: events go into the log in the publishing transaction; the doorbell wakes the pump. */
export class PumpedEventBus implements EventBus {
  private readonly pump: EventPump;
  private readonly wake = () => this.pump.wake();
  /** Transactions whose commit already rings the doorbell. */
  private readonly rung = new WeakSet<Executor>();

  constructor(
    private readonly store: EventStore,
    private readonly doorbell: Doorbell,
    onError: (error: Error) => void,
  ) {
    this.pump = new EventPump(store, onError);
  }

  async publish(executor: Executor, ...events: NewEvent[]): Promise<number[]> {
    const ids = await this.store.append(executor, events);
    // One ring per transaction: the pump reads every row the transaction added.
    if (!this.rung.has(executor)) {
      this.rung.add(executor);
      await this.doorbell.ring(executor, this.wake);
    }
    return ids;
  }

  subscribe(listener: EventListener): () => void {
    return this.pump.subscribe(listener);
  }

  async start(): Promise<void> {
    await this.pump.start();
    await this.doorbell.start(this.wake);
  }

  async stop(): Promise<void> {
    await this.doorbell.stop();
    await this.pump.idle();
  }
}
