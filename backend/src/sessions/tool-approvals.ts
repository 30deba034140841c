import { sql, type Selectable } from 'kysely';
import { recordAudit } from '../accounts/index.ts';
import { toJsonText, type ApprovalOutcome, type Executor, type PostgresDatabase, type ToolApprovalsTable } from '../database/index.ts';
import { AppError, type ReportedError } from '../errors.ts';
import type { AgentryEvent, EventBus } from '../events/index.ts';
import { redactArguments } from '../redaction/index.ts';
import { sessionTopic } from './session-events.ts';
import { lockSession } from './session-row.ts';
import type { LedgerEntry } from './tool-ledger.ts';
import type { TurnLeases, TurnRow } from './turn-leases.ts';
import type { HeldTurn } from './turn-store.ts';
import { endUnattendedTurn } from './unattended-turns.ts';

export type ApprovalRow = Selectable<ToolApprovalsTable>;

/** The user's topic of approvals across sessions (the console's header badge follows it). */
export const approvalsTopic = 'approvals';

/** A person's decision on one call, as the store records it (the arguments already checked). */
export type ApprovalVerdict =
  { outcome: 'approved'; input?: unknown; edited: boolean } | { outcome: 'denied' | 'expired' | 'dropped'; note?: string | undefined };

/** What the model reads as the result of a call that did not run. */
const notRunCodes = { denied: 'TOOL_DENIED', expired: 'APPROVAL_EXPIRED', dropped: 'APPROVAL_DROPPED' } as const;

/** A turn of an unattended session that now waits for the user's approval of `tools`. */
export interface ApprovalWait {
  sessionId: string;
  userId: string;
  turnId: string;
  tools: string[];
}

/**
 * Told when a turn of an unattended session (one a trigger started, with no one watching) starts
 * waiting for approvals, inside the transaction that makes it wait: whatever it writes (the user's
 * notification) exists exactly when the wait does. The triggers area supplies it.
 */
export type ApprovalWaitListener = (tx: Executor, wait: ApprovalWait) => Promise<void>;

export interface ToolApprovalsDeps {
  database: PostgresDatabase;
  bus: EventBus;
  leases: TurnLeases;
  onApprovalWait?: ApprovalWaitListener | undefined;
}

/**
 * Approvals, durably: a call policy says to ask about waits in the ledger (`awaiting_approval`)
 * with its request here; its turn waits (`awaiting_approval`) holding no lease; each call gets
 * exactly one decision (approved, maybe with edited arguments; denied; expired; dropped), and the
 * decision that leaves no call of the turn waiting hands the turn to a new lease, so it resumes
 * exactly once, on the instance that made it. Every write locks the session row first (the order
 * of every session write), so a decision and the turn's own writes never interleave.
 */
export class ToolApprovals {
  constructor(private readonly deps: ToolApprovalsDeps) {}

  /**
   * Asks for approval of `entries` (calls of one step, recorded `pending`), fenced by the turn's
   * lease: they wait in the ledger, and each gets a request, announced on the session's topic and
   * the user's approvals topic. `expiresInMs` 0: the requests never expire.
   */
  async request(
    turn: HeldTurn,
    options: { entries: readonly LedgerEntry[]; schemas: ReadonlyMap<string, unknown>; expiresInMs: number },
  ): Promise<void> {
    const { session } = turn;
    const { entries, expiresInMs } = options;
    await this.deps.database.transaction(async (tx) => {
      await this.deps.leases.renew(tx, turn.turnId, turn.token);
      await tx
        .updateTable('tool_calls')
        .set({ status: 'awaiting_approval' })
        .where(
          'id',
          'in',
          entries.map((e) => e.id),
        )
        .where('status', '=', 'pending')
        .execute();
      const rows = await tx
        .insertInto('tool_approvals')
        .values(
          entries.map((entry) => ({
            tool_call_id: entry.id,
            session_id: session.id,
            turn_id: turn.turnId,
            user_id: session.user_id,
            agent_id: session.agent_id,
            call_id: entry.call_id,
            tool: entry.tool,
            input: toJsonText(entry.input ?? null),
            input_schema: toJsonText(options.schemas.get(entry.tool) ?? null),
            expires_at: expiresInMs > 0 ? sql<Date>`now() + make_interval(secs => ${expiresInMs / 1000}::double precision)` : null,
          })),
        )
        .onConflict((oc) => oc.column('tool_call_id').doNothing())
        .returningAll()
        .execute();
      await this.announce(
        tx,
        session.user_id,
        rows.map((row) => ({
          type: 'tool.approval_requested',
          data: {
            ...label(row),
            arguments: redactArguments(row.input),
            expiresAt: row.expires_at?.toISOString() ?? null,
          },
        })),
      );
    });
  }

  /**
   * The turn waits for its calls' decisions, holding nothing: `waiting`. Unless every call was
   * decided meanwhile (`decided`: the execution goes on), or the session stopped running
   * (`stopped`: the turn ends). Fenced by the lease. An unattended session's wait is told to
   * `onApprovalWait` in the same transaction.
   */
  async wait(turn: HeldTurn): Promise<'waiting' | 'decided' | 'stopped'> {
    return this.deps.database.transaction(async (tx) => {
      const state = await this.deps.leases.renew(tx, turn.turnId, turn.token);
      if (state.sessionStatus !== 'running') return 'stopped';
      if (!(await awaiting(tx, turn.turnId))) return 'decided';
      await tx
        .updateTable('turns')
        .set({ status: 'awaiting_approval', lease_owner: null, lease_expires_at: null })
        .where('id', '=', turn.turnId)
        .execute();
      const { session } = turn;
      if (session.unattended && this.deps.onApprovalWait) {
        const asked = await tx
          .selectFrom('tool_approvals')
          .select('tool')
          .where('turn_id', '=', turn.turnId)
          .where('status', '=', 'pending')
          .orderBy('created_at')
          .execute();
        await this.deps.onApprovalWait(tx, {
          sessionId: session.id,
          userId: session.user_id,
          turnId: turn.turnId,
          tools: asked.map((a) => a.tool),
        });
      }
      return 'waiting';
    });
  }

  /**
   * Records the user's decision on one call of their session. Another user's call, or one that
   * never asked, is 404 APPROVAL_NOT_FOUND; a call already decided is 409 APPROVAL_DECIDED with
   * the first decision's outcome. `always` also saves the user's rule allowing the tool for the
   * session's agent. Returns the turn to execute when this decision was its last one.
   */
  async decide(options: {
    userId: string;
    sessionId: string;
    callId: string;
    verdict: ApprovalVerdict;
    always?: boolean | undefined;
    ip?: string | null | undefined;
  }): Promise<{ approval: ApprovalRow; resumed: { turn: TurnRow; token: string } | undefined }> {
    const { userId, sessionId, callId, verdict } = options;
    return this.deps.database.transaction(async (tx) => {
      await lockSession(tx, sessionId);
      const row = await tx
        .selectFrom('tool_approvals')
        .selectAll()
        .where('session_id', '=', sessionId)
        .where('user_id', '=', userId)
        .where('call_id', '=', callId)
        .forUpdate()
        .executeTakeFirst();
      if (!row) throw new AppError('APPROVAL_NOT_FOUND');
      if (row.status !== 'pending')
        throw new AppError('APPROVAL_DECIDED', `This call was already ${row.status}: the first decision stands.`, {
          details: { outcome: row.status, edited: row.edited },
        });
      const approval = await this.settle(tx, row, verdict, userId);
      if (options.always && verdict.outcome === 'approved') {
        await tx
          .insertInto('tool_approval_rules')
          .values({ user_id: userId, agent_id: row.agent_id, tool: row.tool, decision: 'allow' })
          .onConflict((oc) => oc.columns(['user_id', 'agent_id', 'tool']).doUpdateSet({ decision: 'allow' }))
          .execute();
      }
      await recordAudit(tx, {
        action: 'tool.approval_decided',
        actorUserId: userId,
        targetType: 'tool_call',
        targetId: row.tool_call_id,
        ip: options.ip ?? null,
        details: {
          sessionId,
          callId: row.call_id,
          tool: row.tool,
          outcome: verdict.outcome,
          edited: verdict.outcome === 'approved' && verdict.edited,
          always: options.always === true,
        },
      });
      return { approval, resumed: await this.resumeIfDecided(tx, row.turn_id) };
    });
  }

  /**
   * Denies, as expired, up to `limit` requests whose wait is over (each in a transaction of its
   * own, so instances sweeping at once skip each other's). Returns the turns to execute.
   */
  async expire(limit: number): Promise<Array<{ turn: TurnRow; token: string }>> {
    const due = await this.deps.database.db
      .selectFrom('tool_approvals')
      .select(['id', 'session_id'])
      .where('status', '=', 'pending')
      .where('expires_at', '<', sql<Date>`now()`)
      .orderBy('expires_at')
      .limit(limit)
      .execute();
    const resumed: Array<{ turn: TurnRow; token: string }> = [];
    for (const { id, session_id } of due) {
      const turn = await this.deps.database.transaction(async (tx) => {
        await lockSession(tx, session_id);
        const row = await tx
          .selectFrom('tool_approvals')
          .selectAll()
          .where('id', '=', id)
          .where('status', '=', 'pending')
          .executeTakeFirst();
        if (!row) return undefined;
        const note = 'No one approved or denied this call before its wait expired: it did not run.';
        await this.settle(tx, row, { outcome: 'expired', note }, null);
        await recordAudit(tx, {
          action: 'tool.approval_decided',
          targetType: 'tool_call',
          targetId: row.tool_call_id,
          details: { sessionId: row.session_id, callId: row.call_id, tool: row.tool, outcome: 'expired', edited: false, always: false },
        });
        return this.resumeIfDecided(tx, row.turn_id);
      });
      if (turn) resumed.push(turn);
    }
    return resumed;
  }

  /**
   * The session was paused, completed or failed: its pending requests are dropped (the model
   * reads so if the turn resumes). `end`: the waiting turn ends too, cancelled. In `tx`, which
   * changes the session's status and locked its row.
   */
  async drop(tx: Executor, session: { id: string; user_id: string }, options: { end: boolean }): Promise<AgentryEvent[]> {
    const rows = await tx
      .selectFrom('tool_approvals')
      .selectAll()
      .where('session_id', '=', session.id)
      .where('status', '=', 'pending')
      .execute();
    for (const row of rows) await this.settle(tx, row, { outcome: 'dropped' }, null);
    if (!options.end) return [];
    const turn = await tx
      .selectFrom('turns')
      .select('id')
      .where('session_id', '=', session.id)
      .where('status', '=', 'awaiting_approval')
      .executeTakeFirst();
    const ended = turn && (await endUnattendedTurn(tx, turn.id, { status: 'awaiting_approval' }, { status: 'cancelled' }));
    return ended ? [ended] : [];
  }

  /** Ends the session's turn that waits for approvals, `cancelled`, its requests dropped; false when there was none. */
  async cancelWaiting(session: { id: string; user_id: string }): Promise<boolean> {
    return this.deps.database.transaction(async (tx) => {
      await lockSession(tx, session.id);
      const events = await this.drop(tx, session, { end: true });
      if (events.length > 0)
        await this.deps.bus.publish(tx, ...events.map((event) => ({ userId: session.user_id, topic: sessionTopic(session.id), event })));
      return events.length > 0;
    });
  }

  /**
   * A session resumed with a turn whose calls were all dropped meanwhile: the turn is let go (its
   * lease released), so an instance's recovery resumes it at its next look. In `tx`.
   */
  async release(tx: Executor, sessionId: string): Promise<void> {
    await tx
      .updateTable('turns')
      .set({ status: 'running', lease_owner: null, lease_expires_at: sql<Date>`now()` })
      .where('session_id', '=', sessionId)
      .where('status', '=', 'awaiting_approval')
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('tool_calls')
              .select('id')
              .whereRef('tool_calls.turn_id', '=', 'turns.id')
              .where('status', '=', 'awaiting_approval'),
          ),
        ),
      )
      .execute();
  }

  /** Whether the session's unfinished turn waits for approvals (what a new message is told). */
  async waiting(sessionId: string): Promise<boolean> {
    const row = await this.deps.database.db
      .selectFrom('turns')
      .select('id')
      .where('session_id', '=', sessionId)
      .where('status', '=', 'awaiting_approval')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The user's requests awaiting a decision, oldest first, across sessions. */
  async pending(userId: string, options: { sessionId?: string | undefined; limit: number }): Promise<ApprovalRow[]> {
    let query = this.deps.database.db
      .selectFrom('tool_approvals')
      .selectAll()
      .where('user_id', '=', userId)
      .where('status', '=', 'pending');
    if (options.sessionId) query = query.where('session_id', '=', options.sessionId);
    return query.orderBy('created_at').orderBy('id').limit(options.limit).execute();
  }

  /** One of the user's requests in a session, pending or decided; 404 when there is none. */
  async get(userId: string, sessionId: string, callId: string): Promise<ApprovalRow> {
    const row = await this.deps.database.db
      .selectFrom('tool_approvals')
      .selectAll()
      .where('user_id', '=', userId)
      .where('session_id', '=', sessionId)
      .where('call_id', '=', callId)
      .executeTakeFirst();
    if (!row) throw new AppError('APPROVAL_NOT_FOUND');
    return row;
  }

  /** Records one decision on a pending request: the request, the ledger entry, the events. */
  private async settle(tx: Executor, row: ApprovalRow, verdict: ApprovalVerdict, decidedBy: string | null): Promise<ApprovalRow> {
    const edited = verdict.outcome === 'approved' && verdict.edited;
    const note = verdict.outcome === 'approved' ? null : (verdict.note ?? null);
    const settled = await tx
      .updateTable('tool_approvals')
      .set({ status: verdict.outcome, edited, note, decided_by: decidedBy, decided_at: sql<Date>`now()` })
      .where('id', '=', row.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await tx
      .updateTable('tool_calls')
      .set(
        verdict.outcome === 'approved'
          ? { status: 'pending', approval: 'approved', ...(edited ? { input: toJsonText(verdict.input ?? null) } : {}) }
          : {
              status: 'skipped',
              approval: verdict.outcome,
              is_error: true,
              result: toJsonText(notRun(verdict.outcome, verdict.note)),
              finished_at: sql<Date>`now()`,
            },
      )
      .where('id', '=', row.tool_call_id)
      .where('status', '=', 'awaiting_approval')
      .execute();
    await this.announce(tx, row.user_id, [{ type: 'tool.approval_decided', data: { ...label(row), outcome: verdict.outcome, edited } }]);
    return settled;
  }

  /** Hands the turn, if no call of it waits any more, to a new lease: exactly once, whoever decides last. */
  private async resumeIfDecided(tx: Executor, turnId: string): Promise<{ turn: TurnRow; token: string } | undefined> {
    if (await awaiting(tx, turnId)) return undefined;
    const token = this.deps.leases.newToken();
    const turn = await tx
      .updateTable('turns')
      .set({ status: 'running', lease_owner: token, lease_expires_at: this.deps.leases.expiry() })
      .where('id', '=', turnId)
      .where('status', '=', 'awaiting_approval')
      .where('session_id', 'in', (eb) => eb.selectFrom('agent_sessions').select('id').where('status', '=', 'running'))
      .returningAll()
      .executeTakeFirst();
    return turn ? { turn, token } : undefined;
  }

  private async announce(tx: Executor, userId: string, events: readonly AgentryEvent[]): Promise<void> {
    const published = events.flatMap((event) => {
      const sessionId = (event.data as { sessionId: string }).sessionId;
      return [
        { userId, topic: sessionTopic(sessionId), event },
        { userId, topic: approvalsTopic, event },
      ];
    });
    if (published.length > 0) await this.deps.bus.publish(tx, ...published);
  }
}

/** Whether any call of the turn still waits for a decision. */
async function awaiting(tx: Executor, turnId: string): Promise<boolean> {
  const row = await tx
    .selectFrom('tool_calls')
    .select('id')
    .where('turn_id', '=', turnId)
    .where('status', '=', 'awaiting_approval')
    .executeTakeFirst();
  return row !== undefined;
}

function notRun(outcome: Exclude<ApprovalOutcome, 'approved'>, note: string | undefined): ReportedError {
  const code = notRunCodes[outcome];
  return {
    code,
    message:
      note ??
      (outcome === 'denied'
        ? 'The user denied this call: it did not run.'
        : code === 'APPROVAL_DROPPED'
          ? 'The session was paused, completed or failed while this call awaited approval: it did not run.'
          : 'The wait for approval expired: it did not run.'),
  };
}

/** How a call is named in events, whose ids are capped: a model may invent very long names. */
function label(row: ApprovalRow) {
  return { sessionId: row.session_id, callId: row.call_id.slice(0, 200), tool: row.tool.slice(0, 200), approvalId: row.id };
}
