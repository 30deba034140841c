import { sql, type Expression, type OperationNodeSource } from 'kysely';
import { toJsonText, type EventRow, type Executor, type PostgresDatabase } from '../database/index.ts';
import { eventDataSchemas, type AgentryEvent, type EventType, type StoredEvent } from './event-types.ts';

/**
 * Ids in commit order: why readers never skip an event.
 *
 * A sequence hands out ids when rows are inserted, not when they commit, so with plain inserts a
 * reader could see id 11 commit, move its cursor past it, and then id 10 commit behind it. Here
 * every transaction that appends an event first takes this transaction-scoped advisory lock; it is
 * released only when the transaction ends, after its rows are visible. So an id is taken only
 * once every earlier event transaction has committed or rolled back, ids become visible in
 * increasing order, and "everything after the last id I saw" is always complete. The cost is that
 * event-producing transactions serialise from their first append to their commit: append events
 * last in a transaction.
 */
const commitOrderLock = 0x61677274; // "agrt"

export interface NewEvent {
  userId: string;
  topic: string;
  event: AgentryEvent;
}

export interface HistoryQuery {
  userId: string;
  topic?: string;
  types?: EventType[];
  after?: number;
  since?: Date;
  until?: Date;
  limit: number;
}

/**
 * Removes every event of the given users' topics, in the caller's transaction: what a removed
 * session leaves behind (see removeFinishedSessions). The events area owns its table, so other
 * areas clear their topics through here.
 */
export async function removeTopicEvents(executor: Executor, topics: ReadonlyArray<{ userId: string; topic: string }>): Promise<void> {
  if (topics.length === 0) return;
  await executor
    .deleteFrom('events')
    .where((eb) => eb.or(topics.map(({ userId, topic }) => eb.and([eb('user_id', '=', userId), eb('topic', '=', topic)]))))
    .execute();
}

/**
 * A change that events report, made in the statement that records them: named common table
 * expressions, each one statement (a later one may read an earlier one by name), the last of
 * which decides: the events are recorded only if it returns a row.
 */
export type ChangeExpressions = ReadonlyArray<readonly [name: string, query: OperationNodeSource]>;

/**
 * What a statement that records a change returns of it beside its events: each a scalar
 * expression (typically a subquery of a ChangeExpressions part, such as the rows it wrote), by name.
 */
export type ReturnedExpressions<R> = { readonly [K in keyof R]: Expression<R[K]> };

/** A NOTIFY sent with an append, delivered when its transaction commits. */
export interface Notification {
  channel: string;
  payload: string;
}

export class EventStore {
  constructor(private readonly database: PostgresDatabase) {}

  /**
   * Records events in the caller's transaction, in the order given, in one insert: they exist if
   * and only if that transaction commits. Throws when an event's data does not match its type's
   * schema.
   */
  async append(executor: Executor, events: readonly NewEvent[]): Promise<number[]> {
    return (await this.appendStored(executor, events)).map((event) => event.id);
  }

  /**
   * As `append`, returning the events as they were stored. `notify` is a NOTIFY sent in the same
   * statement (delivered when the transaction commits); `after`, the change they report, made by
   * the same statement (see ChangeExpressions): no events when it changed nothing.
   */
  async appendStored(
    executor: Executor,
    events: readonly NewEvent[],
    options: { notify?: Notification; after?: ChangeExpressions } = {},
  ): Promise<StoredEvent[]> {
    // Outside a transaction the lock would be released before the insert: no ordering at all.
    if (!executor.isTransaction) throw new Error('Events are appended inside the transaction of the change they report.');
    return this.insert(executor, events, options.notify, options.after);
  }

  /**
   * Records events in a statement of their own, which commits on its own, in commit order like
   * every other append: events that report progress rather than a change (text deltas), or, with
   * `after`, the change they report made by the same statement. Returns no events when `after`
   * changed nothing; else with them what `returning` asks of the change (read from its parts'
   * rows: the statement's snapshot of the tables does not hold what it wrote), or undefined
   * without it.
   */
  async appendAlone<R extends Record<string, unknown> = Record<string, never>>(
    events: readonly NewEvent[],
    options: { notify?: Notification; after?: ChangeExpressions; returning?: ReturnedExpressions<R> } = {},
  ): Promise<{ events: StoredEvent[]; returned: R | undefined }> {
    return this.insertReturning(this.database.db, events, options);
  }

  /**
   * One statement: the commit-order lock, the rows (ids taken in the order given, after the lock)
   * and the doorbell's NOTIFY. The lock is re-entrant, so a transaction that appends twice takes
   * it twice at no cost; outside a transaction the statement's own transaction holds it until
   * the rows are visible.
   */
  private async insert(
    executor: Executor,
    events: readonly NewEvent[],
    notify: Notification | undefined,
    after?: ChangeExpressions,
  ): Promise<StoredEvent[]> {
    return (await this.insertReturning(executor, events, { notify, after })).events;
  }

  private async insertReturning<R extends Record<string, unknown>>(
    executor: Executor,
    events: readonly NewEvent[],
    options: { notify?: Notification | undefined; after?: ChangeExpressions | undefined; returning?: ReturnedExpressions<R> | undefined },
  ): Promise<{ events: StoredEvent[]; returned: R | undefined }> {
    const { notify, after, returning } = options;
    if (events.length === 0) return { events: [], returned: undefined };
    const rows = events.map(({ userId, topic, event }, index) => {
      const data = toJsonText(eventDataSchemas[event.type].parse(event.data));
      return { userId, topic, type: event.type, data, index };
    });
    const values = sql.join(
      rows.map((r) => sql`(${r.userId}::uuid, ${r.topic}::text, ${r.type}::text, ${r.data}::jsonb, ${r.index}::int)`),
    );
    const bell = notify ? sql`, (select pg_notify(${notify.channel}, ${notify.payload}) from commit_order) as bell` : sql``;
    // The change first, then the lock, only if it changed something: a statement that waited for
    // a row lock while holding the commit-order lock could deadlock with one that holds the row.
    const change = after ? sql`${sql.join(after.map(([name, query]) => sql`${sql.id(name)} as (${query})`))},` : sql``;
    const changed = after ? sql` where exists (select 1 from ${sql.id(after.at(-1)![0])})` : sql``;
    // Uncorrelated: evaluated once, whatever the number of events.
    const extra = Object.entries(returning ?? {}).map(([name, value]) => sql`, (${value as Expression<unknown>}) as ${sql.id(name)}`);
    const { rows: inserted } = await sql<{ id: string; at: Date } & R>`
      with ${change} commit_order as materialized (select pg_advisory_xact_lock(${commitOrderLock})${changed})
      insert into events (user_id, topic, type, data)
      select v.user_id, v.topic, v.type, v.data from commit_order${bell}, (values ${values}) as v(user_id, topic, type, data, index)
      order by v.index
      returning id, at${extra.length === 0 ? sql`` : sql.join(extra, sql``)}`.execute(executor);
    if (inserted.length === 0) return { events: [], returned: undefined };
    const returned = returning ? (Object.fromEntries(Object.keys(returning).map((name) => [name, inserted[0]![name]])) as R) : undefined;
    // A multi-row insert takes its ids in the order of its rows.
    const ordered = inserted.map((row) => ({ id: Number(row.id), at: row.at })).sort((a, b) => a.id - b.id);
    const stored = rows.map((row, i) => ({
      id: ordered[i]!.id,
      at: ordered[i]!.at,
      userId: row.userId,
      topic: row.topic,
      type: row.type,
      data: JSON.parse(row.data) as unknown,
    })) as StoredEvent[];
    return { events: stored, returned };
  }

  /** The newest id, or 0. */
  async latestId(): Promise<number> {
    const row = await this.database.db
      .selectFrom('events')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirst();
    return row?.id ? Number(row.id) : 0;
  }

  /** Every user's events after `afterId`, in id order: what the bus fans out. */
  async readAfter(afterId: number, limit: number): Promise<StoredEvent[]> {
    const rows = await this.database.db
      .selectFrom('events')
      .selectAll()
      .where('id', '>', String(afterId))
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toStoredEvent);
  }

  /** One user's events on `topics` after `afterId`, in id order: a client's replay. */
  async replay(userId: string, topics: string[], afterId: number, limit: number): Promise<StoredEvent[]> {
    if (topics.length === 0) return [];
    const rows = await this.database.db
      .selectFrom('events')
      .selectAll()
      .where('user_id', '=', userId)
      .where('topic', 'in', topics)
      .where('id', '>', String(afterId))
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toStoredEvent);
  }

  /** One user's history, filtered by topic, type and time, paginated by id. */
  async history(query: HistoryQuery): Promise<StoredEvent[]> {
    let q = this.database.db.selectFrom('events').selectAll().where('user_id', '=', query.userId).orderBy('id').limit(query.limit);
    if (query.topic) q = q.where('topic', '=', query.topic);
    if (query.types?.length) q = q.where('type', 'in', query.types);
    if (query.after !== undefined) q = q.where('id', '>', String(query.after));
    if (query.since) q = q.where('at', '>=', query.since);
    if (query.until) q = q.where('at', '<', query.until);
    return (await q.execute()).map(toStoredEvent);
  }

  /** The highest id ever handed out, even if retention has since deleted it, or 0. */
  async lastIssuedId(): Promise<number> {
    const { rows } = await sql<{ id: string }>`select case when is_called then last_value else 0 end as id from events_id_seq`.execute(
      this.database.db,
    );
    return Number(rows[0]?.id ?? 0);
  }

  /**
   * Deletes events older than `before`, and the deltas of messages that have completed (their
   * `message.completed` carries the whole text), in batches so no long lock is held.
   */
  async prune(before: Date, batchSize = 5000): Promise<number> {
    let deleted = 0;
    for (;;) {
      const result = await sql`
        delete from events where id in (
          select id from events where at < ${before}
          union all
          select d.id from events d
          where d.type = 'message.delta'
            and exists (select 1 from events c where c.type = 'message.completed' and c.user_id = d.user_id
                        and c.topic = d.topic and c.data->>'messageId' = d.data->>'messageId')
          limit ${batchSize})`.execute(this.database.db);
      const n = Number(result.numAffectedRows ?? 0);
      deleted += n;
      if (n < batchSize) return deleted;
    }
  }
}

function toStoredEvent(row: EventRow): StoredEvent {
  return { id: Number(row.id), userId: row.user_id, topic: row.topic, type: row.type, data: row.data, at: row.at } as StoredEvent;
}
