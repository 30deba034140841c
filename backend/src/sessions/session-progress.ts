import { sql, type Expression, type QueryCreator, type UpdateObject } from 'kysely';
import type { DatabaseSchema, Executor, PostgresDatabase, SessionStatus } from '../database/index.ts';
import { AppError, type ReportedError } from '../errors.ts';
import type { AgentryEvent, ChangeExpressions, EventBus, ReturnedExpressions } from '../events/index.ts';
import { checkpointStateOf, type SessionCheckpoints } from './session-checkpoints.ts';
import { publishSessionEvents, sessionTopic } from './session-events.ts';
import type { SessionRow } from './session-row.ts';
import { systemEdge, type SystemCause } from './session-status.ts';

/** The session row as a step's update left it, with the status it had before. */
export type UpdatedSession = SessionRow & { previous_status: SessionStatus };

/** What countStep did: the session as updated, and whether the step completed it. */
export interface CountedStep {
  session: UpdatedSession;
  justCompleted: boolean;
  /** With a fence: whether a cancel of the turn was asked for, as the renewal read it under the lock. */
  cancelRequested?: boolean | undefined;
}

/**
 * Renews a turn's lease in the statement that makes a session write (see TurnLeases.fence): one
 * round trip for both, the session row locked first. Throws LeaseLost when the lease is another's.
 */
export interface LeaseFence {
  renewWith(
    tx: Executor,
    update: (db: QueryCreator<DatabaseSchema>) => SessionUpdateQuery,
  ): Promise<{ session: UpdatedSession; cancelRequested: boolean } | undefined>;
  /**
   * The renewal as the first parts of a larger statement (see TurnLeases.renewalExpressions):
   * `session` locks the session row, then `lease` renews the lease, a row only if it is still
   * held and the session in one of `onlyFrom`. Parts after them that select from `lease` (the
   * session's own update too) write nothing otherwise.
   */
  expressions(options: { onlyFrom?: readonly SessionStatus[] | undefined }): ChangeExpressions;
  /** After a statement of `expressions` wrote nothing: throws LeaseLost if the lease is why. */
  assertHeld(): Promise<void>;
}

/** The session update a fence wraps. */
export type SessionUpdateQuery = ReturnType<typeof sessionUpdate>;

/** A step's update of its session: its counts, and whether it completes the session. */
export interface StepUpdate {
  sessionId: string;
  counts: StepCounts;
  complete?: boolean;
  requireRunning?: boolean;
  /** The turn's lease, renewed in the same statement. */
  fence?: LeaseFence | undefined;
}

/** What one step of a turn adds to its session's counters. */
export interface StepCounts {
  messages: number;
  toolCalls: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** Some of costUsd was counted at the default price; the session's cost then reads as estimated. */
  costEstimated?: boolean | undefined;
}

/**
 * What the agent loop writes to a session as its turns go, always inside the loop's own
 * transaction: a step's counts, a turn's end, and the status changes the server makes on its own
 * (the system edges of the table in session-status.ts), each guarded in the statement that makes it.
 */
export class SessionProgress {
  constructor(private readonly deps: { database: PostgresDatabase; bus: EventBus; checkpoints: SessionCheckpoints }) {}

  /**
   * Adds a step's counts to the session, checkpoints it and publishes the step's events, last,
   * inside the step's own transaction (the agent loop's), so messages, counters, checkpoint and
   * events commit together. Unless told otherwise, refused with SESSION_NOT_RUNNING once the
   * session was paused, completed, failed or deleted: the step rolls back and the turn ends there.
   * (Tool results are recorded whatever the status: the calls ran.) With `complete`, the step is
   * the session's last: the agent finished the template's steps.
   */
  async recordStep(tx: Executor, options: StepUpdate & { step: number; checkpoint?: boolean; events?: AgentryEvent[] }): Promise<void> {
    const counted = await this.countStep(tx, options);
    await this.announceStep(tx, { ...options, counted });
  }

  /**
   * The first half of recordStep, the first write of a step's transaction: the step's counts
   * added to the session row (locked first, the order of every session write), and with `fence`
   * the turn's lease renewed in the same statement, refused with LeaseLost (nothing written) once
   * the lease is another's. Returns the session as updated, for announceStep.
   */
  async countStep(tx: Executor, options: StepUpdate): Promise<CountedStep> {
    const { fence } = options;
    const completes = options.complete === true;
    const finished = systemEdge('steps-finished');
    const fenced = fence ? await fence.renewWith(tx, (db) => stepSessionUpdate(db, options)) : undefined;
    const row = fence ? fenced?.session : await stepSessionUpdate(tx, options).executeTakeFirst();
    if (!row) throw new AppError('SESSION_NOT_RUNNING', 'The session stopped running during the turn.');
    return {
      session: row,
      justCompleted: completes && finished.from.includes(row.previous_status),
      cancelRequested: fenced?.cancelRequested,
    };
  }

  /**
   * A step of a turn as recordStep records it, in one statement that commits on its own (see
   * ChangeExpressions): the session row locked, the lease renewed by `fence` (only if still held
   * and the session in a status the step may be written from), then, each only if the renewal
   * was, the session's counts (`counted`), the step's own `writes` (each selecting from `lease`),
   * the checkpoint with `checkpoint` (its state the session's as `counted` left it, its messages up
   * to `messageSeq` at least, for what `writes` inserted), then the events. Returns what
   * `returning` asks; with nothing written, throws LeaseLost or SESSION_NOT_RUNNING as countStep
   * does. Not for a step that completes the session: recordStep announces its status change.
   */
  async recordStepAlone<R extends Record<string, unknown>>(
    options: Omit<StepUpdate, 'complete' | 'fence'> & {
      userId: string;
      fence: LeaseFence;
      step: number;
      writes: ChangeExpressions;
      checkpoint: boolean;
      messageSeq?: Expression<string>;
      events: AgentryEvent[];
      returning: ReturnedExpressions<R>;
    },
  ): Promise<R> {
    const { sessionId, userId, fence, step } = options;
    const checkpoint = options.checkpoint
      ? this.deps.checkpoints.recording({
          sessionId,
          userId,
          reason: 'step',
          step,
          state: checkpointStateOf('counted'),
          messageSeq: sql<string>`greatest((select coalesce(max(seq), 0) from messages where session_id = ${sessionId}), ${options.messageSeq ?? null})`,
          from: 'lease',
        })
      : undefined;
    const events = [...options.events, ...(checkpoint ? [checkpoint.event] : [])];
    const returned = await this.deps.bus.publishAlone<R>(
      events.map((event) => ({ userId, topic: sessionTopic(sessionId), event })),
      {
        after: [
          ...fence.expressions({ onlyFrom: stepStatuses(options) }),
          // Runs whatever the other parts find, like every data-modifying part: fenced by the lease too.
          ['counted', stepSessionUpdate(this.deps.database.db, options).where(sql<boolean>`exists (select 1 from lease)`)],
          ...options.writes,
          ...(checkpoint?.after ?? []),
        ],
        returning: options.returning,
      },
    );
    if (returned) return returned;
    await fence.assertHeld();
    throw new AppError('SESSION_NOT_RUNNING', 'The session stopped running during the turn.');
  }

  /**
   * The second half of recordStep, the last write of a step's transaction: the checkpoint (unless
   * `checkpoint` is false) and the step's events, with the status change a completing step made.
   */
  async announceStep(tx: Executor, options: { counted: CountedStep; step: number; checkpoint?: boolean; events?: AgentryEvent[] }) {
    const { counted, step } = options;
    const { session, justCompleted } = counted;
    const events = [...(options.events ?? [])];
    if (justCompleted) {
      const { to } = systemEdge('steps-finished');
      events.push({
        type: 'session.status_changed',
        data: { sessionId: session.id, from: session.previous_status, to, reason: "the agent finished the template's steps" },
      });
    }
    if (options.checkpoint === false) await publishSessionEvents(this.deps.bus, tx, { session, events });
    else await this.deps.checkpoints.record(tx, { session, reason: justCompleted ? 'status' : 'step', step, events });
  }

  /**
   * Moves the session along the system edges of `cause` (a tool outcome to decide, a turn that
   * could not be recovered, a decision made), with a checkpoint and the event giving the reason;
   * `error` becomes its last error. Returns false when the session was in none of the statuses
   * the cause may leave (the table in session-status.ts says which).
   */
  async transition(
    tx: Executor,
    options: { sessionId: string; cause: SystemCause; reason: string; error?: ReportedError | undefined },
  ): Promise<boolean> {
    const { sessionId, error } = options;
    const { from, to } = systemEdge(options.cause);
    const row = await updateSession(tx, {
      sessionId,
      set: {
        status: to,
        completed_at: to === 'completed' ? sql`now()` : null,
        ...(error ? { last_error: error, error_count: sql`error_count + 1` } : {}),
      },
      onlyFrom: from,
    });
    if (!row) return false;
    const events: AgentryEvent[] = [
      { type: 'session.status_changed', data: { sessionId, from: row.previous_status, to, reason: options.reason } },
    ];
    await this.deps.checkpoints.record(tx, { session: row, reason: 'status', events });
    return true;
  }

  /**
   * What a turn's end adds to its session, whatever the session's status now (and nothing if it
   * is gone): the message a cancelled model call had written, and a failed turn's error.
   */
  async recordTurnEnd(tx: Executor, options: { sessionId: string; messages: number; error: ReportedError | undefined }): Promise<void> {
    const { sessionId, messages, error } = options;
    if (messages === 0 && !error) return;
    await tx
      .updateTable('agent_sessions')
      .set({
        message_count: sql`message_count + ${messages}`,
        ...(error ? { error_count: sql`error_count + 1`, last_error: error } : {}),
        last_active_at: sql`now()`,
        version: sql`version + 1`,
      })
      .where('id', '=', sessionId)
      .execute();
  }
}

/**
 * A step's update of its session (see SessionProgress.countStep), also to run as the first part
 * of a larger statement: locks the session row, adds the step's counts (and completes the session
 * with `complete`), returning the row as updated with the status it had; no row when the session
 * is not in a status the step may be written from (running, unless `requireRunning` is false).
 */
export function stepSessionUpdate(db: QueryCreator<DatabaseSchema>, options: Omit<StepUpdate, 'fence'>): SessionUpdateQuery {
  const { sessionId, counts } = options;
  // Only a session still on the edge completes; one the user paused or ended keeps its status.
  const finished = systemEdge('steps-finished');
  const onEdge = sql`agent_sessions.status in (${sql.join(finished.from)})`;
  const set: UpdateObject<DatabaseSchema, 'agent_sessions'> = {
    message_count: sql`message_count + ${counts.messages}`,
    tool_call_count: sql`tool_call_count + ${counts.toolCalls}`,
    error_count: sql`error_count + ${counts.errors}`,
    input_tokens: sql`input_tokens + ${counts.inputTokens}`,
    output_tokens: sql`output_tokens + ${counts.outputTokens}`,
    cost_usd: sql`cost_usd + ${counts.costUsd}`,
    ...(counts.costEstimated ? { cost_estimated: true } : {}),
    ...(options.complete === true
      ? {
          status: sql`case when ${onEdge} then ${finished.to} else agent_sessions.status end`,
          completed_at: sql`case when ${onEdge} then now() else completed_at end`,
        }
      : {}),
  };
  return sessionUpdate(db, { sessionId, set, onlyFrom: stepStatuses(options) });
}

/** The statuses a step's session may be in for the step to be written. */
function stepStatuses(options: Pick<StepUpdate, 'requireRunning'>): SessionStatus[] | undefined {
  return options.requireRunning === false ? undefined : ['running'];
}

/**
 * Updates the session row (bumping its version and activity), only from the statuses `onlyFrom`
 * lists when given, returning it with the status it had (or no row when none qualified).
 */
function sessionUpdate(
  db: QueryCreator<DatabaseSchema>,
  options: { sessionId: string; set: UpdateObject<DatabaseSchema, 'agent_sessions'>; onlyFrom?: SessionStatus[] | undefined },
) {
  const { sessionId, set, onlyFrom } = options;
  let update = db
    .with('previous', (db) =>
      db.selectFrom('agent_sessions').select('status as previous_status').where('id', '=', sessionId).forNoKeyUpdate(),
    )
    .updateTable('agent_sessions')
    .from('previous')
    .set({ ...set, version: sql`version + 1`, last_active_at: sql`now()` })
    .where('agent_sessions.id', '=', sessionId);
  if (onlyFrom) update = update.where('previous.previous_status', 'in', onlyFrom);
  return update.returningAll('agent_sessions').returning('previous.previous_status');
}

/** Updates the session row (see sessionUpdate), in one statement. */
async function updateSession(tx: Executor, options: Parameters<typeof sessionUpdate>[1]) {
  return sessionUpdate(tx, options).executeTakeFirst();
}
