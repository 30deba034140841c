import WebSocket from 'ws';
import type { AgentryEvent } from '../../../backend/src/events/index.ts';

/**
 * An event as the server sends it (see the README's Events section), one member per event type of
 * the server's event union: checking `event` narrows `data` to that type's payload.
 */
export type EventFrame = {
  [E in AgentryEvent as E['type']]: { type: 'event'; id: number; topic: string; event: E['type']; data: E['data']; at: string };
}[AgentryEvent['type']];

/** The payload of one event type. */
export type EventData<E extends EventFrame['event']> = Extract<EventFrame, { event: E }>['data'];

export interface EventsOptions {
  /** Topics to follow, e.g. `session:<id>` or `knowledge`. */
  topics: string[];
  /** Replay from after this event id (0: everything retention kept), then follow live. Absent: from now. */
  since?: number;
  /** Reconnections (each resuming after the last id received) before the stream gives up. */
  maxReconnects?: number;
}

/** The server refused the stream: a bad token (4401), a topic you may not follow, too many connections. */
export class AgentryStreamError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'AgentryStreamError';
  }
}

/** The frames that are not events (pongs and unsubscribe answers are not asked for here). */
type ControlFrame =
  { type: 'ready'; userId: string } | { type: 'subscribed'; topics: string[] } | { type: 'error'; code: string; message: string };

/** Close codes after which reconnecting cannot help. */
const finalCloseCodes = new Map([
  [4401, 'UNAUTHORIZED'],
  [4429, 'TOO_MANY_STREAMS'],
  [1008, 'POLICY'],
]);

/**
 * The WebSocket event stream as an async iterable: authenticates with the token in its first frame,
 * subscribes to the topics, and yields each event once. When the connection drops (a network
 * blip, a slow-consumer cut, the server's maximum lifetime) it reconnects and resumes after the last
 * event id it yielded, so nothing inside retention is lost. `close()` (or leaving a `for await`)
 * ends it.
 */
export function openEvents(options: EventsOptions & { baseUrl: string; token: string }): AsyncIterable<EventFrame> & { close(): void } {
  const url = `${options.baseUrl.replace(/^http/, 'ws')}/v1/ws`;
  const queue: EventFrame[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let closed = false;
  let lastId = options.since;
  let reconnects = 0;
  let socket: WebSocket | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };

  const connect = () => {
    const ws = new WebSocket(url);
    socket = ws;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token: options.token })));
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as ControlFrame | EventFrame;
      if (frame.type === 'ready') {
        ws.send(JSON.stringify({ type: 'subscribe', topics: options.topics, ...(lastId !== undefined ? { since: lastId } : {}) }));
      } else if (frame.type === 'subscribed') {
        reconnects = 0;
      } else if (frame.type === 'error') {
        failure = new AgentryStreamError(frame.code, frame.message);
        ws.close();
        notify();
      } else if (frame.type === 'event' && (lastId === undefined || frame.id > lastId)) {
        lastId = frame.id;
        queue.push(frame);
        notify();
      }
    });
    ws.on('error', () => undefined); // the close that follows decides
    ws.on('close', (code, reason) => {
      if (closed || failure) return notify();
      const final = finalCloseCodes.get(code);
      if (final || reconnects >= (options.maxReconnects ?? 5)) {
        failure = new AgentryStreamError(final ?? 'DISCONNECTED', reason.toString() || `The event stream closed (${code}).`);
        return notify();
      }
      reconnects += 1;
      setTimeout(connect, Math.min(5000, 200 * 2 ** reconnects));
    });
  };
  connect();

  const close = () => {
    closed = true;
    socket?.close(1000);
    notify();
  };
  return {
    close,
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          const next = queue.shift();
          if (next) {
            yield next;
            continue;
          }
          if (failure) throw failure;
          if (closed) return;
          await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        close();
      }
    },
  };
}
