import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Executor, PostgresDatabase, TurnStatus } from '../database/index.ts';
import { AppError, type ReportedError } from '../errors.ts';
import type { AgentryEvent, EventBus } from '../events/index.ts';
import { publishSessionEvents } from './session-events.ts';
import type { SessionProgress } from './session-progress.ts';
import { lockSession } from './session-row.ts';
import type { ToolLedger } from './tool-ledger.ts';
import { LeaseLost, type TurnLeases, type TurnRow } from './turn-leases.ts';

/** How a turn ended: every status but the two of an unfinished one. */
export type EndStatus = Exclude<TurnStatus, 'running' | 'suspended' | 'awaiting_approval'>;

/** The user's decision on a tool call whose outcome a crash left unknown. */
export interface ToolDecision {
  action: 'retry' | 'skip' | 'fail';
  note?: string | undefined;
}

/**
 * Ends a turn that no execution is recording the end of (one awaiting a decision, one recovered
 * too often): its status, its error, the steps it recorded, no lease. Only if it is still as
 * `expected` says (awaiting a decision, or held by a lease token). Returns the `turn.ended` event
 * to publish with the change, or undefined when the turn had moved on.
 */
export async function endUnattendedTurn(
  tx: Executor,
  turnId: string,
  expected: { status: 'suspended' | 'awaiting_approval' } | { leaseOwner: string },
  end: { status: EndStatus; error?: ReportedError | undefined },
): Promise<AgentryEvent | undefined> {
  let update = tx
    .updateTable('turns')
    .set({
      status: end.status,
      ...(end.error ? { error: end.error } : {}),
      finished_at: sql<Date>`now()`,
      steps: sql<number>`(select coalesce(max(m.step), 0) from messages m where m.turn_id = turns.id)`,
      lease_owner: null,
      lease_expires_at: null,
    })
    .where('id', '=', turnId);
  update = 'status' in expected ? update.where('status', '=', expected.status) : update.where('lease_owner', '=', expected.leaseOwner);
  const triggered = sql<boolean>`exists (select 1 from agent_sessions s where s.id = turns.session_id and s.trigger_firing_id is not null)`;
  const row = await update.returning(['session_id', 'steps', 'error', triggered.as('triggered')]).executeTakeFirst();
  if (!row) return undefined;
  const { error } = row;
  return {
    type: 'turn.ended',
    data: {
      sessionId: row.session_id,
      turnId,
      status: end.status,
      steps: row.steps,
      ...(error ? { error } : {}),
      ...(row.triggered ? { triggered: true as const } : {}),
    },
  };
}

export interface UnattendedTurnsDeps {
  database: PostgresDatabase;
  bus: EventBus;
  progress: SessionProgress;
  leases: TurnLeases;
  ledger: ToolLedger;
}

/**
 * The writes to turns that no execution makes: a cancel asked for, a decision on a suspended
 * turn, and the end of a turn recovered too often. Each is guarded in the statement that makes it,
 * so it holds against an execution (here or on another instance) changing the turn meanwhile.
 */
export class UnattendedTurns {
  constructor(private readonly deps: UnattendedTurnsDeps) {}

  /**
   * Asks the session's running turn to stop, recorded first so the cancel holds even if no
   * execution here records the turn's end. Returns the turn's id, if one was running.
   */
  async requestCancel(sessionId: string): Promise<string | undefined> {
    const row = await this.deps.database.db
      .updateTable('turns')
      .set({ cancel_requested: true })
      .where('session_id', '=', sessionId)
      .where('status', '=', 'running')
      .returning('id')
      .executeTakeFirst();
    return row?.id;
  }

  /** Waits, up to `timeoutMs`, for a turn another instance executes to end; says whether it has. */
  async awaitEnd(turnId: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const turn = await this.deps.database.db.selectFrom('turns').select('status').where('id', '=', turnId).executeTakeFirst();
      if (turn?.status !== 'running') return true;
      await sleep(50);
    }
    return false;
  }

  /** Ends the session's turn that awaits a decision, `cancelled`; false when there was none. */
  async cancelSuspended(sessionId: string): Promise<boolean> {
    const suspended = await this.deps.database.db
      .selectFrom('turns')
      .select(['id', 'user_id'])
      .where('session_id', '=', sessionId)
      .where('status', '=', 'suspended')
      .executeTakeFirst();
    if (!suspended) return false;
    return this.deps.database.transaction(async (tx) => {
      await lockSession(tx, sessionId);
      const ended = await endUnattendedTurn(tx, suspended.id, { status: 'suspended' }, { status: 'cancelled' });
      if (ended) await this.publish(tx, { id: sessionId, user_id: suspended.user_id }, ended);
      return ended !== undefined;
    });
  }

  /**
   * Records the user's decision on the session's suspended turn: `fail` ends it and fails the
   * session; `retry` and `skip` mark its unknown calls and hand the turn, running again, to a new
   * lease, returned for the caller to execute it under.
   */
  async resolve(userId: string, sessionId: string, decision: ToolDecision): Promise<{ turn: TurnRow; token: string } | undefined> {
    const turn = await this.deps.database.db
      .selectFrom('turns')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('user_id', '=', userId)
      .where('status', '=', 'suspended')
      .executeTakeFirst();
    if (!turn) throw new AppError('NOTHING_TO_RESOLVE');
    const reason = `the user chose to ${decision.action} a tool call whose outcome was unknown`;
    const { leases, ledger } = this.deps;
    const token = leases.newToken();
    await this.deps.database.transaction(async (tx) => {
      // The session first (the order of every session write), then the turn, checked again.
      const cause = decision.action === 'fail' ? 'resolve-fail' : 'resolve-resume';
      const moved = await this.deps.progress.transition(tx, { sessionId, cause, reason });
      if (!moved) throw new AppError('INVALID_TRANSITION', 'The session is no longer paused on this call: read it again.');
      if (decision.action === 'fail') {
        const ended = await endUnattendedTurn(tx, turn.id, { status: 'suspended' }, { status: 'failed' });
        if (!ended) throw new AppError('SESSION_LOCKED');
        await this.publish(tx, { id: sessionId, user_id: userId }, ended);
        return;
      }
      const resumed = await tx
        .updateTable('turns')
        .set({ status: 'running', error: null, lease_owner: token, lease_expires_at: leases.expiry() })
        .where('id', '=', turn.id)
        .where('status', '=', 'suspended')
        .returning('id')
        .executeTakeFirst();
      if (!resumed) throw new AppError('SESSION_LOCKED');
      await ledger.resolveUnknown(
        tx,
        turn.id,
        decision.action === 'retry'
          ? { action: 'retry' }
          : { action: 'skip', note: decision.note ?? 'The user chose not to run this call again; whether it had its effect is unknown.' },
      );
    });
    return decision.action === 'fail' ? undefined : { turn, token };
  }

  /**
   * A turn that kept failing to be recovered: it fails, and so does its session; unless the user
   * had cancelled it, in which case it just ends cancelled.
   */
  async exhaust(turn: TurnRow & { token: string }): Promise<void> {
    const status = turn.cancel_requested ? 'cancelled' : 'failed';
    const error: ReportedError | undefined = turn.cancel_requested
      ? undefined
      : {
          code: 'RECOVERY_EXHAUSTED',
          message: `The turn was interrupted and resumed ${turn.recoveries - 1} times without finishing; it was stopped.`,
        };
    await this.deps.database.transaction(async (tx) => {
      const sessionId = turn.session_id;
      if (error) await this.deps.progress.transition(tx, { sessionId, cause: 'recovery-exhausted', reason: error.message, error });
      else await lockSession(tx, sessionId);
      const ended = await endUnattendedTurn(tx, turn.id, { leaseOwner: turn.token }, { status, error });
      if (!ended) throw new LeaseLost(`The turn ${turn.id} is no longer held by ${turn.token}.`);
      await this.publish(tx, { id: sessionId, user_id: turn.user_id }, ended);
    });
  }

  private async publish(tx: Executor, session: { id: string; user_id: string }, event: AgentryEvent): Promise<void> {
    await publishSessionEvents(this.deps.bus, tx, { session, events: [event] });
  }
}
