import type { AgentryEvent } from '../../backend/src/events/index.ts';
import { notifySignedOut } from './api.ts';

/**
 * An event as the server sends it on every channel (see the README's Events section), one member
 * per event type of the backend's event union: checking `event` narrows `data` to that type's
 * payload, as the server validated it when the event was recorded.
 */
export type EventFrame = {
  [E in AgentryEvent as E['type']]: { type: 'event'; id: number; topic: string; event: E['type']; data: E['data']; at: string };
}[AgentryEvent['type']];

/** The payload of one event type. */
export type EventData<E extends EventFrame['event']> = Extract<EventFrame, { event: E }>['data'];

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'too-many' | 'refused';
type Listener = (frame: EventFrame) => void;

interface Topic {
  listeners: Set<Listener>;
  /** The newest event id received on this topic: a reconnect resumes after it. */
  lastId: number | undefined;
}

const closeCodes = { unauthorized: 4401, tooManyConnections: 4429 } as const;
const maxBackoffMs = 5_000;
/** A connection this old counts as working: the backoff starts again from short. */
const stableMs = 10_000;
/** The page pings this often; a connection silent for three times as long is dead (a laptop slept). */
const pingMs = 25_000;
const maxResumeFrames = 4;

/**
 * One WebSocket per tab, shared by every page. It authenticates with the console's session cookie
 * (the server checks the Origin), follows the topics the pages ask for, and when the connection
 * drops it reconnects by itself and resumes each topic from the last event id it received, so a
 * network blip loses nothing on screen. Events at or below a topic's last id are dropped, which
 * makes a replay that overlaps what was already shown harmless.
 */
export class LiveConnection {
  private socket: WebSocket | undefined;
  private readonly topics = new Map<string, Topic>();
  private readonly stateListeners = new Set<(state: LiveState) => void>();
  private readonly pending = new Map<string, 'subscribe' | 'unsubscribe'>();
  private attempts = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;
  private stopped = true;
  private ready = false;
  state: LiveState = 'connecting';

  constructor(private readonly url: string) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.setState('connecting');
    this.connect();
  }

  /** Closes the socket for good (signing out). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopTimers();
    this.socket?.close(1000, 'signed out');
    this.socket = undefined;
    this.ready = false;
    this.topics.clear();
    this.pending.clear();
  }

  onState(listener: (state: LiveState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /**
   * Follows `topic`. With `since`, the server first replays the topic's events after that id (a
   * page that loaded a snapshot asks for what happened after it); otherwise only new events come.
   * Returns the unsubscribe function.
   */
  subscribe(topic: string, listener: Listener, since?: number): () => void {
    let entry = this.topics.get(topic);
    if (!entry) {
      entry = { listeners: new Set(), lastId: since };
      this.topics.set(topic, entry);
      this.queue(topic, 'subscribe');
    }
    entry.listeners.add(listener);
    const topicEntry = entry;
    return () => {
      topicEntry.listeners.delete(listener);
      if (topicEntry.listeners.size > 0 || this.topics.get(topic) !== topicEntry) return;
      this.topics.delete(topic);
      this.queue(topic, 'unsubscribe');
    };
  }

  /**
   * Changes made in one go (a page that follows twenty sessions) leave in one frame each way: the
   * server closes a socket that sends more than a few frames a second.
   */
  private queue(topic: string, change: 'subscribe' | 'unsubscribe'): void {
    this.pending.set(topic, change);
    if (this.pending.size === 1) queueMicrotask(() => this.flush());
  }

  private flush(): void {
    const changes = [...this.pending];
    this.pending.clear();
    if (!this.ready) return; // onReady subscribes everything followed
    const gone = changes.filter(([topic, change]) => change === 'unsubscribe' && !this.topics.has(topic)).map(([topic]) => topic);
    if (gone.length) this.send({ type: 'unsubscribe', topics: gone });
    this.subscribeAll(changes.filter(([topic, change]) => change === 'subscribe' && this.topics.has(topic)).map(([topic]) => topic));
  }

  /**
   * Subscribes `topics`, each from its last id, in few frames (the server allows only a few a
   * second): topics with the same last id share a frame, and past four such groups the oldest
   * merge, resuming from the older id (each topic drops what it already had). Topics without a
   * last id follow from now.
   */
  private subscribeAll(topics: string[]): void {
    const groups = new Map<number | undefined, string[]>();
    for (const topic of topics) {
      const since = this.topics.get(topic)?.lastId;
      groups.set(since, [...(groups.get(since) ?? []), topic]);
    }
    const sinces = [...groups.keys()].filter((since): since is number => since !== undefined).sort((a, b) => a - b);
    while (sinces.length > maxResumeFrames) {
      const [oldest, next] = [sinces[0]!, sinces[1]!];
      groups.set(oldest, [...groups.get(oldest)!, ...groups.get(next)!]);
      groups.delete(next);
      sinces.splice(1, 1);
    }
    for (const [since, group] of groups) {
      for (let i = 0; i < group.length; i += 100)
        this.send({ type: 'subscribe', topics: group.slice(i, i + 100), ...(since !== undefined ? { since } : {}) });
    }
  }

  private setState(state: LiveState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private send(frame: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  private connect(): void {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    this.ready = false;
    socket.onmessage = (message) => {
      this.lastHeard = Date.now();
      let frame: { type?: string; code?: string; message?: string };
      try {
        frame = JSON.parse(String(message.data)) as typeof frame;
      } catch {
        return;
      }
      if (frame.type === 'ready') this.onReady();
      else if (frame.type === 'event') this.deliver(frame as EventFrame);
      else if (frame.type === 'subscribed') this.onSubscribed(frame as { topics: string[]; position: number });
      else if (frame.type === 'error') console.warn(`live updates: ${frame.code}: ${frame.message}`);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.ready = false;
      this.stopTimers();
      if (this.stopped) return;
      if (event.code === closeCodes.unauthorized) {
        this.stopped = true;
        this.setState('refused');
        notifySignedOut();
        return;
      }
      // Any other close (1013 too slow, 4408 at the stream's maximum lifetime, a network drop)
      // reconnects and resumes each topic from its last id.
      const tooMany = event.code === closeCodes.tooManyConnections;
      this.setState(tooMany ? 'too-many' : 'reconnecting');
      this.scheduleRetry(tooMany);
    };
  }

  private stopTimers(): void {
    clearTimeout(this.stableTimer);
    clearInterval(this.pingTimer);
  }

  /** A new or renewed connection follows every topic again, each from its last id. */
  private onReady(): void {
    this.ready = true;
    this.setState('live');
    this.stableTimer = setTimeout(() => (this.attempts = 0), stableMs);
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > 3 * pingMs) this.socket?.close(4000, 'no answer');
      else this.send({ type: 'ping' });
    }, pingMs);
    this.pending.clear();
    this.subscribeAll([...this.topics.keys()]);
  }

  /** A topic followed from "now" learns where now is, so a reconnect resumes it without a gap. */
  private onSubscribed(frame: { topics: string[]; position: number }): void {
    for (const topic of frame.topics) {
      const entry = this.topics.get(topic);
      if (entry && entry.lastId === undefined) entry.lastId = frame.position;
    }
  }

  private deliver(frame: EventFrame): void {
    const entry = this.topics.get(frame.topic);
    if (!entry || (entry.lastId !== undefined && frame.id <= entry.lastId)) return;
    entry.lastId = frame.id;
    for (const listener of entry.listeners) {
      try {
        listener(frame);
      } catch (error) {
        console.error('an event listener failed', error);
      }
    }
  }

  private scheduleRetry(slow: boolean): void {
    const base = Math.min(maxBackoffMs, 500 * 2 ** this.attempts++) * (slow ? 4 : 1);
    this.retryTimer = setTimeout(() => this.connect(), base / 2 + Math.random() * (base / 2));
  }
}

function socketUrl(): string {
  const url = new URL('/v1/ws', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** The tab's connection. */
export const live = new LiveConnection(socketUrl());
