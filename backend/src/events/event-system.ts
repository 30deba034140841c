import type { PostgresDatabase } from '../database/index.ts';
import { inProcessDoorbell, notifyDoorbell, PumpedEventBus, type EventBus } from './event-bus.ts';
import { EventFanout } from './event-fanout.ts';
import { EventStore } from './event-store.ts';
import { registerUserTopics, TopicRegistry } from './topics.ts';

export interface EventSystem {
  store: EventStore;
  bus: EventBus;
  fanout: EventFanout;
  topics: TopicRegistry;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const pruneEveryMs = 60 * 60 * 1000;

/**
 * The event log, the bus that fits the database (in-process for the embedded one, which a single
 * process owns; LISTEN/NOTIFY for a server several instances may share), the fan-out to clients,
 * and the hourly retention job.
 */
export function createEventSystem(
  database: PostgresDatabase,
  options: { retentionDays: number; onError: (error: Error) => void },
): EventSystem {
  const store = new EventStore(database);
  const doorbell = database.capabilities.inProcessNotify ? inProcessDoorbell() : notifyDoorbell(database);
  const bus = new PumpedEventBus({ store, doorbell, database, onError: options.onError });
  const fanout = new EventFanout(bus, store);
  const topics = new TopicRegistry();
  registerUserTopics(topics);
  let timer: NodeJS.Timeout | undefined;
  const prune = () =>
    void store.prune(new Date(Date.now() - options.retentionDays * 86_400_000)).catch((error: Error) => options.onError(error));
  return {
    store,
    bus,
    fanout,
    topics,
    async start() {
      await bus.start();
      fanout.start();
      prune();
      timer = setInterval(prune, pruneEveryMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      fanout.stop();
      await bus.stop();
    },
  };
}
