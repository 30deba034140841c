import type { EventBus } from './event-bus.ts';
import type { EventStore } from './event-store.ts';
import type { StoredEvent } from './event-types.ts';

/** Where a client's events go (a WebSocket, a server-sent-events response). False: the client is gone. */
export type EventSink = (event: StoredEvent) => boolean;

/** How a replay keeps pace with a client: it pauses while the client's buffer is congested. */
export interface FlowControl {
  congested(): boolean;
  drained(): Promise<void>;
}

const replayPage = 500;

/**
 * Fans the bus out to connected clients: one bus subscription per process, and per client the
 * topics it follows. A client only ever receives its own user's events.
 */
export class EventFanout {
  private readonly streams = new Map<string, Set<ClientStream>>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly bus: EventBus,
    private readonly store: EventStore,
  ) {}

  start(): void {
    this.unsubscribe = this.bus.subscribe((event) => {
      for (const stream of this.streams.get(event.userId) ?? []) stream.offer(event);
    });
  }

  stop(): void {
    this.unsubscribe?.();
  }

  open(userId: string, flow: FlowControl, sink: EventSink): ClientStream {
    const stream = new ClientStream(userId, this.store, flow, sink, () => {
      const set = this.streams.get(userId);
      set?.delete(stream);
      if (set?.size === 0) this.streams.delete(userId);
    });
    const set = this.streams.get(userId) ?? new Set();
    set.add(stream);
    this.streams.set(userId, set);
    return stream;
  }
}

/**
 * One client's view of the event stream. Subscribing with `since` replays the stored events after
 * that id and then continues live, with no gap and no duplicate at the seam: live events that
 * arrive during the replay wait in a buffer and are sent after it. Per topic the stream remembers
 * the highest id it sent and never sends an id at or below it again, which also drops the live
 * copy of an event the replay already read straight from the log. Events reach the client in id
 * order per topic.
 */
export class ClientStream {
  private readonly topics = new Set<string>();
  private replays = 0;
  private buffer: StoredEvent[] = [];
  private readonly sentUpTo = new Map<string, number>();
  private open = true;

  constructor(
    readonly userId: string,
    private readonly store: EventStore,
    private readonly flow: FlowControl,
    private readonly sink: EventSink,
    private readonly onClose: () => void,
  ) {}

  get topicCount(): number {
    return this.topics.size;
  }

  offer(event: StoredEvent): void {
    if (!this.open || !this.topics.has(event.topic)) return;
    if (this.replays > 0) this.buffer.push(event);
    else this.deliver(event);
  }

  /** Follows `topics` from now on, or from just after `since` when given. */
  async subscribe(topics: string[], since?: number): Promise<void> {
    const added = topics.filter((t) => !this.topics.has(t));
    for (const topic of added) this.topics.add(topic);
    if (since === undefined) return;
    this.replays++;
    try {
      let after = since;
      for (;;) {
        const page = await this.store.replay(this.userId, topics, after, replayPage);
        for (const event of page) {
          if (!this.open) return;
          this.deliver(event);
          after = event.id;
          if (this.flow.congested()) await this.flow.drained();
        }
        if (page.length < replayPage) break;
      }
    } finally {
      this.replays--;
      if (this.replays === 0) {
        const pending = this.buffer;
        this.buffer = [];
        for (const event of pending) if (this.topics.has(event.topic)) this.deliver(event);
      }
    }
  }

  unsubscribe(topics: string[]): void {
    for (const topic of topics) {
      this.topics.delete(topic);
      this.sentUpTo.delete(topic);
    }
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.buffer = [];
    this.onClose();
  }

  private deliver(event: StoredEvent): void {
    if (!this.open || event.id <= (this.sentUpTo.get(event.topic) ?? 0)) return;
    this.sentUpTo.set(event.topic, event.id);
    if (!this.sink(event)) this.close();
  }
}
