import type pg from 'pg';

export type NotificationHandler = (payload: string) => void;

const channelPattern = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * LISTEN/NOTIFY behind one interface for both drivers.
 *
 * One dedicated connection issues LISTEN and re-issues it after a reconnect. Notifications are
 * dispatched from every connection the service owns, not only from the listener: on PostgreSQL
 * only the listener ever receives them, while the embedded database has a single backend session
 * shared by all connections and delivers a notification on the connection whose query committed
 * it. Either way each notification is dispatched exactly once, after its transaction commits.
 * A throwing handler is isolated from the others.
 */
export class NotificationListener {
  /** Per channel: its handlers, and whether LISTEN is in force (a failed LISTEN removes the entry). */
  private readonly channels = new Map<string, { handlers: Set<NotificationHandler>; ready: Promise<void> }>();
  private readonly reconnectHandlers = new Map<object, () => void>();
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connect: () => Promise<pg.Client>,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Routes a client's notifications to the handlers. Call for every connection the service opens. */
  attach(client: pg.Client | pg.PoolClient): void {
    client.on('notification', (message) => this.dispatch(message.channel, message.payload ?? ''));
  }

  async listen(channel: string, handler: NotificationHandler, onReconnect?: () => void): Promise<() => Promise<void>> {
    if (!channelPattern.test(channel)) throw new Error(`Invalid notification channel name: ${channel}`);
    let entry = this.channels.get(channel);
    if (!entry) {
      const created = {
        handlers: new Set<NotificationHandler>(),
        ready: this.ensureClient().then(async (client) => void (await client.query(`LISTEN "${channel}"`))),
      };
      created.ready.catch(() => {
        if (this.channels.get(channel) === created) this.channels.delete(channel);
      });
      this.channels.set(channel, created);
      entry = created;
    }
    await entry.ready;
    const { handlers } = entry;
    handlers.add(handler);
    const subscription = {};
    if (onReconnect) this.reconnectHandlers.set(subscription, onReconnect);
    return async () => {
      handlers.delete(handler);
      this.reconnectHandlers.delete(subscription);
      if (handlers.size === 0 && this.channels.get(channel) === entry) {
        this.channels.delete(channel);
        await this.client?.query(`UNLISTEN "${channel}"`).catch(() => undefined);
      }
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private dispatch(channel: string, payload: string): void {
    for (const handler of this.channels.get(channel)?.handlers ?? []) {
      try {
        handler(payload);
      } catch (error) {
        this.onError(error as Error);
      }
    }
  }

  private ensureClient(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect()
      .then(async (client) => {
        if (this.closed) {
          await client.end().catch(() => undefined);
          throw new Error('The notification listener is closed.');
        }
        this.attach(client);
        const lost = (error?: Error) => this.onLost(client, error);
        client.on('error', lost);
        client.on('end', () => lost());
        this.client = client;
        return client;
      })
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  /** The listener connection dropped: reconnect with backoff and LISTEN again on every channel. */
  private onLost(client: pg.Client, error?: Error): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    if (error) this.onError(error);
    const retry = (delay: number) => {
      this.retryTimer = setTimeout(() => {
        if (this.closed || this.channels.size === 0) return;
        this.ensureClient()
          .then(async (fresh) => {
            for (const channel of this.channels.keys()) await fresh.query(`LISTEN "${channel}"`);
            for (const onReconnect of this.reconnectHandlers.values()) {
              try {
                onReconnect();
              } catch (error) {
                this.onError(error as Error);
              }
            }
          })
          .catch((reconnectError: Error) => {
            this.onError(reconnectError);
            retry(Math.min(delay * 2, 10_000));
          });
      }, delay);
      this.retryTimer.unref();
    };
    retry(100);
  }
}
