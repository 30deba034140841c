import { randomUUID } from 'node:crypto';
import { sql, type QueryCreator, type Selectable } from 'kysely';
import type { DatabaseSchema, Executor, PostgresDatabase, SessionStatus, TurnsTable } from '../database/index.ts';
import type { ChangeExpressions } from '../events/index.ts';
import type { LeaseFence, UpdatedSession } from './session-progress.ts';

export type TurnRow = Selectable<TurnsTable>;

/** This execution of the turn no longer holds its lease: another one took the turn over. */
export class LeaseLost extends Error {
  override readonly name = 'LeaseLost';
}

/**
 * Turn leases: while a turn executes, one execution holds it, named by a token of its own
 * (`<instance>/<random>`), until an expiry its heartbeat pushes forward. Every write a turn makes
 * renews the lease in the same transaction and is refused once the lease is someone else's, so
 * two executions can never both record a step (fencing). Idle sessions hold nothing.
 */
export class TurnLeases {
  constructor(
    private readonly database: PostgresDatabase,
    /** Names this instance in lease tokens: host, process and a random suffix. */
    readonly instanceId: string,
    private readonly ttlMs: number,
  ) {}

  /** A token for one execution of one turn. */
  newToken(): string {
    return `${this.instanceId}/${randomUUID().slice(0, 8)}`;
  }

  /** The expiry of a lease taken or renewed now. */
  expiry() {
    return sql<Date>`now() + make_interval(secs => ${this.ttlMs / 1000}::double precision)`;
  }

  /**
   * Renews the lease inside `executor` (a step's transaction, to fence its writes), and reports
   * what the turn must react to: a cancel asked for on any instance, and its session's status.
   * The session row is locked first, then the turn's: the order of every session write, so a
   * step never deadlocks with a status change or a delete.
   */
  async renew(executor: Executor, turnId: string, token: string): Promise<{ cancelRequested: boolean; sessionStatus: SessionStatus }> {
    const row = await this.renewal(executor, turnId, token).executeTakeFirst();
    if (!row) throw new LeaseLost(`The turn ${turnId} is no longer held by ${token}.`);
    return { cancelRequested: row.cancel_requested, sessionStatus: row.status };
  }

  /**
   * The statement `renew` runs, to run as part of a larger one (a write it fences): the session
   * row locked first, then the turn's lease renewed; no row when the lease is another's.
   */
  renewal(db: QueryCreator<DatabaseSchema>, turnId: string, token: string) {
    return db
      .with('session', (db) =>
        db
          .selectFrom('agent_sessions')
          .select(['agent_sessions.id', 'agent_sessions.status'])
          .where('agent_sessions.id', '=', (eb) => eb.selectFrom('turns').select('turns.session_id').where('turns.id', '=', turnId))
          .forNoKeyUpdate(),
      )
      .updateTable('turns')
      .from('session')
      .set({ lease_expires_at: this.expiry() })
      .whereRef('session.id', '=', 'turns.session_id')
      .where('turns.id', '=', turnId)
      .where('turns.lease_owner', '=', token)
      .where('turns.status', '=', 'running')
      .returning(['turns.id', 'turns.cancel_requested', 'session.status']);
  }

  /**
   * The renewal as the first parts of a statement that publishes what it fences (see
   * ChangeExpressions): `session` locks the session row (returning its `id` and `status`), then
   * `lease` renews the turn's lease and returns a row (the turn's `id` and `cancel_requested`)
   * only if the lease is still this token's and, with `onlyFrom`, the session in one of those
   * statuses. The parts after them write only if `lease` returned its row (they select from it):
   * data-modifying parts of one statement all run, so a session update among them is fenced too.
   */
  renewalExpressions(turnId: string, token: string, options: { onlyFrom?: readonly SessionStatus[] | undefined } = {}): ChangeExpressions {
    const { onlyFrom } = options;
    const status = onlyFrom ? sql` and session.status in (${sql.join(onlyFrom)})` : sql``;
    return [
      [
        'session',
        sql`select id, status from agent_sessions where id = (select session_id from turns where id = ${turnId}) for no key update`,
      ],
      [
        'lease',
        sql`update turns set lease_expires_at = ${this.expiry()} from session
            where session.id = turns.session_id and turns.id = ${turnId} and turns.lease_owner = ${token} and turns.status = 'running'${status}
            returning turns.id, turns.cancel_requested`,
      ],
    ];
  }

  /**
   * Why a fenced write wrote nothing, read after it (a rare path): throws LeaseLost when the
   * lease is another's or the turn no longer runs; returns when the lease is held (then the
   * session was not in a status it may be written from).
   */
  async assertHeld(executor: Executor, turnId: string, token: string): Promise<void> {
    const turn = await executor.selectFrom('turns').select(['lease_owner', 'status']).where('id', '=', turnId).executeTakeFirst();
    if (turn?.lease_owner !== token || turn.status !== 'running') throw new LeaseLost(`The turn ${turnId} is no longer held by ${token}.`);
  }

  /**
   * A fence for one session write of the turn (see SessionProgress.countStep): the session update
   * runs as the statement's first part, locking the session row, and the lease is renewed on the
   * turn's row after it, in the same statement. Refused with LeaseLost when the lease is another's
   * (the caller's transaction rolls back, the session update with it); undefined when the lease is
   * held but the update wrote no row (the session is not in a status it may be written from).
   */
  fence(turnId: string, token: string): LeaseFence {
    return {
      renewWith: async (tx, update) => {
        const row = await tx
          .with('session', (db) => update(db))
          .updateTable('turns')
          .from('session')
          .set({ lease_expires_at: this.expiry() })
          .whereRef('session.id', '=', 'turns.session_id')
          .where('turns.id', '=', turnId)
          .where('turns.lease_owner', '=', token)
          .where('turns.status', '=', 'running')
          .returningAll('session')
          .returning('turns.cancel_requested as turn_cancel_requested')
          .executeTakeFirst();
        if (row) {
          const { turn_cancel_requested: cancelRequested, ...session } = row;
          return { session: session as UpdatedSession, cancelRequested };
        }
        await this.assertHeld(tx, turnId, token);
        return undefined;
      },
      expressions: (options) => this.renewalExpressions(turnId, token, options),
      assertHeld: () => this.assertHeld(this.database.db, turnId, token),
    };
  }

  /**
   * Gives the lease up at once, the turn still running, so any instance resumes it at its next
   * look (a graceful shutdown). A released lease is not counted as a failed recovery.
   */
  async release(turnId: string, token: string): Promise<void> {
    await this.database.db
      .updateTable('turns')
      .set({ lease_owner: null, lease_expires_at: sql<Date>`now()` })
      .where('id', '=', turnId)
      .where('lease_owner', '=', token)
      .execute();
  }

  /**
   * Claims running turns whose lease expired (their instance died or lost the database) or was
   * released, each under a token of its own; each claim of an expired (not released) lease counts
   * as a recovery. Instances looking at once skip each other's rows, and a turn whose execution is
   * writing (its row locked) is skipped too. `evenUnexpired` claims every running turn: only for
   * an instance that knows no other can exist (the embedded database's locked directory).
   */
  async reclaimExpired(limit: number, options: { evenUnexpired?: boolean } = {}): Promise<Array<TurnRow & { token: string }>> {
    const token = this.newToken();
    const rows = await this.database.db
      .updateTable('turns')
      .set({
        lease_owner: sql<string>`${token} || '/' || turns.id`,
        lease_expires_at: this.expiry(),
        recoveries: sql<number>`recoveries + case when lease_owner is null then 0 else 1 end`,
      })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('turns')
          .select('id')
          .where('status', '=', 'running')
          // A lease with no expiry is not this version's (an older instance running it): left alone.
          .where((w) => (options.evenUnexpired ? w('lease_expires_at', 'is not', null) : w('lease_expires_at', '<', sql<Date>`now()`)))
          .orderBy('lease_expires_at')
          .limit(limit)
          .forUpdate()
          .skipLocked(),
      )
      .returningAll()
      .execute();
    return rows.map((row) => ({ ...row, token: row.lease_owner! }));
  }
}
