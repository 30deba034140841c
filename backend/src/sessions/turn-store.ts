import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { toJsonText, type PostgresDatabase, type SessionStatus } from '../database/index.ts';
import { AppError, type ReportedError } from '../errors.ts';
import type { AgentryEvent, ChangeExpressions, EventBus } from '../events/index.ts';
import { messageTokenCount } from '../providers/index.ts';
import { messageFromJson, messageJson, type MessageJson } from './message-json.ts';
import { publishSessionEvents, sessionTopic } from './session-events.ts';
import { stepSessionUpdate, type SessionProgress } from './session-progress.ts';
import { sessionFromJson, sessionJson, type SessionJson, type SessionRow } from './session-row.ts';
import { ApprovalRules } from './approval-rules.ts';
import { noStepCounts, StepRecords, type UnrecordedModelCall } from './step-records.ts';
import { ToolApprovals, type ApprovalWaitListener } from './tool-approvals.ts';
import { ToolLedger } from './tool-ledger.ts';
import { TurnLeases, type TurnRow } from './turn-leases.ts';
import { TurnTranscript, type MessageRow, type MessageView } from './turn-transcript.ts';
import { UnattendedTurns, type EndStatus } from './unattended-turns.ts';

/** One execution's hold on a turn: every write the store makes for it is fenced by its lease. */
export interface HeldTurn {
  readonly turnId: string;
  /** The lease token the execution writes under. */
  readonly token: string;
  readonly session: SessionRow;
  readonly conversationId: string;
}

export interface TurnStoreDeps {
  database: PostgresDatabase;
  bus: EventBus;
  progress: SessionProgress;
  /** Names this instance in lease tokens. */
  instanceId: string;
  leaseTtlMs: number;
  /** Told when an unattended session's turn starts waiting for approvals (see ToolApprovals.wait). */
  onApprovalWait?: ApprovalWaitListener | undefined;
}

/**
 * Turns, owned in one place: every write a turn makes (its start, each step's answer, model-call
 * record, tool calls and results, its suspension and its end, each with the session's counters,
 * checkpoint and events in the same transaction), the leases that fence them (turn-leases.ts),
 * the tool-call ledger (tool-ledger.ts), the writes no execution makes (unattended-turns.ts) and
 * the transcript they read back (turn-transcript.ts). The agent loop writes only through this port.
 *
 * Every write of an execution renews its lease in the same transaction, after locking the session
 * row (the order of every session write), and is refused with LeaseLost once the lease is another's.
 */
export class TurnStore {
  /** The writes of each step: answer, tool calls and results, model-call records. */
  readonly steps: StepRecords;
  /** What turns recorded, read back. */
  readonly transcript: TurnTranscript;
  /** The writes no execution makes: cancels, decisions, exhausted recoveries. */
  readonly unattended: UnattendedTurns;
  /** Calls waiting for a person's approval, and the decisions on them (tool-approvals.ts). */
  readonly approvals: ToolApprovals;
  /** The agent's and the user's approval rules (approval-rules.ts). */
  readonly approvalRules: ApprovalRules;
  /** How long a lease lasts unrenewed: an execution renews it three times as often. */
  readonly leaseTtlMs: number;
  private readonly leases: TurnLeases;
  private readonly ledger: ToolLedger;

  constructor(private readonly deps: TurnStoreDeps) {
    this.leaseTtlMs = deps.leaseTtlMs;
    this.leases = new TurnLeases(deps.database, deps.instanceId, deps.leaseTtlMs);
    this.ledger = new ToolLedger(deps.database);
    this.steps = new StepRecords({ ...deps, leases: this.leases, ledger: this.ledger });
    this.transcript = new TurnTranscript(deps.database);
    this.unattended = new UnattendedTurns({ ...deps, leases: this.leases, ledger: this.ledger });
    this.approvals = new ToolApprovals({ ...deps, leases: this.leases });
    this.approvalRules = new ApprovalRules(deps.database);
  }

  /**
   * Starts a turn with the user's message, leased to a new token, in one statement with the
   * session's count and the message's event: the session row first (the order of every session
   * write; only a running session takes a turn, else SESSION_NOT_RUNNING), then the turn, whose
   * unique index on unfinished turns refuses a second one with 409 SESSION_BUSY, then the message.
   * Returns the session's row as the statement left it, and the message's.
   */
  async open(options: {
    userId: string;
    session: Pick<SessionRow, 'id' | 'user_id'>;
    conversationId: string;
    content: string;
  }): Promise<{ turn: Pick<TurnRow, 'id' | 'conversation_id'>; token: string; message: MessageRow; session: SessionRow }> {
    const { userId, session, conversationId, content } = options;
    const token = this.leases.newToken();
    const turn = { id: randomUUID(), conversation_id: conversationId };
    const messageId = randomUUID(); // chosen here: its event goes in the same statement
    const started: ChangeExpressions = [
      ['session', stepSessionUpdate(this.deps.database.db, { sessionId: session.id, counts: { ...noStepCounts, messages: 1 } })],
      [
        'turn',
        sql`insert into turns (id, session_id, conversation_id, user_id, status, lease_owner, lease_expires_at)
            select ${turn.id}::uuid, session.id, ${conversationId}::uuid, ${userId}::uuid, 'running', ${token}, ${this.leases.expiry()} from session
            returning id`,
      ],
      [
        'message',
        sql`insert into messages (id, conversation_id, session_id, user_id, turn_id, role, content, token_count)
            select ${messageId}::uuid, ${conversationId}::uuid, ${session.id}::uuid, ${userId}::uuid, turn.id, 'user', ${content}, ${messageTokenCount({ text: content })}::int from turn
            returning *`,
      ],
    ];
    const event: AgentryEvent = { type: 'message.completed', data: { sessionId: session.id, messageId, role: 'user', text: content } };
    try {
      const opened = await this.deps.bus.publishAlone<{ session: SessionJson; message: MessageJson }>(
        [{ userId: session.user_id, topic: sessionTopic(session.id), event }],
        {
          after: started,
          returning: {
            session: sql<SessionJson>`(select ${sessionJson('s')} from session s)`,
            message: sql<MessageJson>`(select ${messageJson('m')} from message m)`,
          },
        },
      );
      if (!opened) throw new AppError('SESSION_NOT_RUNNING', 'The session is not running.');
      return { turn, token, message: messageFromJson(opened.message), session: sessionFromJson(opened.session) };
    } catch (error) {
      if ((error as { constraint?: string }).constraint === 'turns_one_unfinished_idx') throw new AppError('SESSION_BUSY');
      throw error;
    }
  }

  /** A session's row, as a turn executes against it; undefined once it was deleted. */
  async session(id: string): Promise<SessionRow | undefined> {
    return this.deps.database.db.selectFrom('agent_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Renews the lease (see TurnLeases.renew): what the turn must react to, or LeaseLost. */
  async renew(turn: Pick<HeldTurn, 'turnId' | 'token'>): Promise<{ cancelRequested: boolean; sessionStatus: SessionStatus }> {
    return this.leases.renew(this.deps.database.db, turn.turnId, turn.token);
  }

  /** Gives the lease up, the turn still running, for any instance to resume it at once. */
  async release(turn: Pick<HeldTurn, 'turnId' | 'token'>): Promise<void> {
    await this.leases.release(turn.turnId, turn.token);
  }

  /** Claims turns whose lease expired or was released (see TurnLeases.reclaimExpired). */
  async reclaimExpired(limit: number, options: { evenUnexpired?: boolean } = {}): Promise<Array<TurnRow & { token: string }>> {
    return this.leases.reclaimExpired(limit, options);
  }

  /**
   * Suspends the turn on a call whose outcome is unknown: it holds no lease, and the session
   * pauses with `error` until the user decides. Returns false, changing nothing, when the session
   * is no longer running (the user paused, completed or failed it meanwhile): the turn then ends.
   */
  async suspend(turn: HeldTurn, error: ReportedError): Promise<boolean> {
    return this.deps.database.transaction(async (tx) => {
      const state = await this.leases.renew(tx, turn.turnId, turn.token);
      if (state.sessionStatus !== 'running') return false;
      await tx
        .updateTable('turns')
        .set({ status: 'suspended', error, lease_owner: null, lease_expires_at: null })
        .where('id', '=', turn.turnId)
        .execute();
      await this.deps.progress.transition(tx, { sessionId: turn.session.id, cause: 'outcome-unknown', reason: error.message, error });
      return true;
    });
  }

  /**
   * Records how the turn ended, if this execution still holds it, with the model call it
   * interrupted (if any). A cancelled call's text, already streamed as deltas, is kept as the
   * step's assistant message, so the transcript says what clients saw; it is returned as the
   * turn's last message (`last` otherwise). A failure counts as an error on the session, whatever
   * its status now. Clients learn how every turn ended (`turn.ended`).
   */
  async end(
    turn: HeldTurn,
    options: {
      status: EndStatus;
      last: MessageView | null;
      error?: ReportedError | undefined;
      interrupted?: UnrecordedModelCall | undefined;
    },
  ): Promise<MessageView | null> {
    const { session, turnId } = turn;
    const { status, error, interrupted } = options;
    let message = options.last;
    const ended = (last: MessageView | null): AgentryEvent => ({
      type: 'turn.ended',
      data: {
        sessionId: session.id,
        turnId,
        status,
        steps: last?.step ?? 0,
        ...(error ? { error } : {}),
        ...(session.trigger_firing_id ? { triggered: true as const } : {}),
      },
    });
    const [lock, end] = this.endExpressions(turn, { status, error, steps: options.last?.step ?? 0 });
    // How most turns end (no model call interrupted, no failure to count on the session): one statement.
    if (!interrupted && !(status === 'failed' && error)) {
      await this.deps.bus.publishAlone([{ userId: session.user_id, topic: sessionTopic(session.id), event: ended(message) }], {
        after: [lock, end],
      });
      return message;
    }
    await this.deps.database.transaction(async (tx) => {
      const { rows } =
        await sql`with ${sql.id(lock[0])} as (${lock[1]}), ${sql.id(end[0])} as (${end[1]}) select id from ${sql.id(end[0])}`.execute(tx);
      if (rows.length === 0) return;
      const events: AgentryEvent[] = [];
      if (interrupted) {
        const callError = error ?? { code: 'CANCELLED', message: 'The turn was cancelled during the model call.' };
        await this.steps.recordModelCall(turn, { ...interrupted, error: callError }, tx);
        if (status === 'cancelled' && interrupted.text !== '') {
          message = await this.steps.recordPartialAnswer(turn, interrupted, tx);
          events.push({
            type: 'message.completed',
            data: { sessionId: session.id, messageId: message.id, role: 'assistant', text: message.content },
          });
        }
      }
      await this.deps.progress.recordTurnEnd(tx, {
        sessionId: session.id,
        messages: events.length,
        error: status === 'failed' ? error : undefined,
      });
      events.push(ended(message));
      await publishSessionEvents(this.deps.bus, tx, { session, events });
    });
    return message;
  }

  /**
   * The turn's end as the first parts of a statement: the session row locked first (the order of
   * every session write), then the turn's row, only while this execution holds its lease: an
   * execution that lost it records nothing.
   */
  private endExpressions(
    turn: HeldTurn,
    end: { status: EndStatus; error: ReportedError | undefined; steps: number },
  ): [ChangeExpressions[number], ChangeExpressions[number]] {
    return [
      ['session', sql`select id from agent_sessions where id = ${turn.session.id} for no key update`],
      [
        'ended',
        sql`update turns set status = ${end.status}, error = ${end.error ? toJsonText(end.error) : null}::jsonb, finished_at = now(),
              steps = ${end.steps}::int, lease_owner = null, lease_expires_at = null
            from session where turns.session_id = session.id and turns.id = ${turn.turnId} and turns.lease_owner = ${turn.token}
            returning turns.id`,
      ],
    ];
  }

  /** Publishes an event that reports progress rather than a change (a delta): in a statement of its own. */
  async announce(turn: Pick<HeldTurn, 'session'>, event: AgentryEvent): Promise<void> {
    const { session } = turn;
    await this.deps.bus.publishAlone([{ userId: session.user_id, topic: sessionTopic(session.id), event }]);
  }
}
