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
  private readonly handlers = new Map<string, Set<NotificationHandler>>();
  private readonly reconnectHandlers = new Map<NotificationHandler, () => void>();
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
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      const client = await this.ensureClient();
      await client.query(`LISTEN "${channel}"`);
    }
    set.add(handler);
    if (onReconnect) this.reconnectHandlers.set(handler, onReconnect);
    return async () => {
      set.delete(handler);
      this.reconnectHandlers.delete(handler);
      if (set.size === 0 && this.handlers.get(channel) === set) {
        this.handlers.delete(channel);
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
    for (const handler of this.handlers.get(channel) ?? []) {
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
      .then((client) => {
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
        if (this.closed || this.handlers.size === 0) return;
        this.ensureClient()
          .then(async (fresh) => {
            for (const channel of this.handlers.keys()) await fresh.query(`LISTEN "${channel}"`);
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
