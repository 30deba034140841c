import { sql } from 'kysely';
import type { Executor, PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';
import type { EventBus } from '../events/index.ts';

/** The topic a user's notifications go out on (every user may follow their own). */
export const notificationsTopic = 'notifications';

/**
 * What a user can be told. `run_waiting_approval` is for the approval code: a triggered run whose
 * tool call waits for the user's decision.
 */
export type NotificationKind = 'run_completed' | 'run_failed' | 'run_waiting_approval' | 'trigger_paused';

export interface NotificationInput {
  kind: NotificationKind;
  title: string;
  body?: string | undefined;
  /** Ids a client links to: `triggerId`, `sessionId`, `firingId`, `turnId`, … (short strings). */
  data?: Record<string, string> | undefined;
}

export interface NotificationView {
  id: string;
  kind: string;
  title: string;
  body: string;
  data: Record<string, string>;
  read: boolean;
  createdAt: string;
}

const maxTitle = 500;
const maxBody = 4000;

/**
 * Notifications: stored per user and announced on the user's `notifications` topic in the same
 * transaction, so a client that follows the topic sees each one once, live or on resume. Any area
 * tells a user something through `notify`; nothing here decides when.
 */
export class NotificationService {
  constructor(private readonly deps: { database: PostgresDatabase; bus: EventBus }) {}

  /**
   * Records a notification for the user and publishes it. Inside `executor` when given (a
   * transaction: the notification exists only if the change it reports commits), else in one of
   * its own. Long text is cut to fit, never refused: a notification must not fail its caller.
   */
  async notify(userId: string, input: NotificationInput, executor?: Executor): Promise<NotificationView> {
    if (executor?.isTransaction) return this.write(executor, userId, input);
    return this.deps.database.transaction((tx) => this.write(tx, userId, input));
  }

  /** The user's notifications, newest first; `unread` only those not yet read. */
  async list(
    userId: string,
    query: { limit: number; unread?: boolean | undefined },
  ): Promise<{ notifications: NotificationView[]; unread: number }> {
    const { db } = this.deps.database;
    let select = db.selectFrom('notifications').selectAll().where('user_id', '=', userId);
    if (query.unread) select = select.where('read_at', 'is', null);
    const [rows, count] = await Promise.all([
      select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute(),
      db
        .selectFrom('notifications')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('user_id', '=', userId)
        .where('read_at', 'is', null)
        .executeTakeFirstOrThrow(),
    ]);
    return { notifications: rows.map(toView), unread: Number(count.n) };
  }

  /** Marks the user's notifications read: those named, or all when none is named. */
  async markRead(userId: string, ids?: readonly string[]): Promise<number> {
    let update = this.deps.database.db
      .updateTable('notifications')
      .set({ read_at: new Date() })
      .where('user_id', '=', userId)
      .where('read_at', 'is', null);
    if (ids) {
      if (ids.length === 0) return 0;
      update = update.where('id', 'in', ids);
    }
    const result = await update.executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  private async write(tx: Executor, userId: string, input: NotificationInput): Promise<NotificationView> {
    const data = Object.fromEntries(Object.entries(input.data ?? {}).map(([k, v]) => [k.slice(0, 50), v.slice(0, 200)]));
    const row = await tx
      .insertInto('notifications')
      .values({
        user_id: userId,
        kind: input.kind,
        title: input.title.slice(0, maxTitle),
        body: (input.body ?? '').slice(0, maxBody),
        data,
        // The time of the insert, not of its transaction: two told in one transaction list in order.
        created_at: sql<Date>`clock_timestamp()`,
      })
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new AppError('INTERNAL', 'A notification was not recorded.');
    const view = toView(row);
    await this.deps.bus.publish(tx, {
      userId,
      topic: notificationsTopic,
      event: { type: 'notification.created', data: { notificationId: view.id, kind: view.kind, title: view.title, body: view.body, data } },
    });
    return view;
  }
}

function toView(row: {
  id: string;
  kind: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  read_at: Date | null;
  created_at: Date;
}): NotificationView {
  return {
    id: row.id,
    kind: row.kind,
    title: row.title,
    body: row.body,
    data: Object.fromEntries(Object.entries(row.data).map(([k, v]) => [k, String(v)])),
    read: row.read_at !== null,
    createdAt: row.created_at.toISOString(),
  };
}
