import { sql, type UpdateObject } from 'kysely';
import type { DatabaseSchema, Executor, SessionStatus } from '../database/index.ts';
import { AppError, type ReportedError } from '../errors.ts';
import type { AgentryEvent, EventBus } from '../events/index.ts';
import type { SessionCheckpoints } from './session-checkpoints.ts';
import { publishSessionEvents } from './session-events.ts';
import { systemEdge, type SystemCause } from './session-status.ts';

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
  constructor(private readonly deps: { bus: EventBus; checkpoints: SessionCheckpoints }) {}

  /**
   * Adds a step's counts to the session, checkpoints it and publishes the step's events, last,
   * inside the step's own transaction (the agent loop's), so messages, counters, checkpoint and
   * events commit together. Unless told otherwise, refused with SESSION_NOT_RUNNING once the
   * session was paused, completed, failed or deleted: the step rolls back and the turn ends there.
   * (Tool results are recorded whatever the status: the calls ran.) With `complete`, the step is
   * the session's last: the agent finished the template's steps.
   */
  async recordStep(
    tx: Executor,
    options: {
      sessionId: string;
      step: number;
      counts: StepCounts;
      checkpoint?: boolean;
      complete?: boolean;
      requireRunning?: boolean;
      events?: AgentryEvent[];
    },
  ): Promise<void> {
    const { sessionId, step, counts } = options;
    const completes = options.complete === true;
    // Only a session still on the edge completes; one the user paused or ended keeps its status.
    const finished = systemEdge('steps-finished');
    const onEdge = sql`agent_sessions.status in (${sql.join(finished.from)})`;
    const row = await updateSession(tx, {
      sessionId,
      set: {
        message_count: sql`message_count + ${counts.messages}`,
        tool_call_count: sql`tool_call_count + ${counts.toolCalls}`,
        error_count: sql`error_count + ${counts.errors}`,
        input_tokens: sql`input_tokens + ${counts.inputTokens}`,
        output_tokens: sql`output_tokens + ${counts.outputTokens}`,
        cost_usd: sql`cost_usd + ${counts.costUsd}`,
        ...(counts.costEstimated ? { cost_estimated: true } : {}),
        ...(completes
          ? {
              status: sql`case when ${onEdge} then ${finished.to} else agent_sessions.status end`,
              completed_at: sql`case when ${onEdge} then now() else completed_at end`,
            }
          : {}),
      },
      onlyFrom: options.requireRunning === false ? undefined : ['running'],
    });
    if (!row) throw new AppError('SESSION_NOT_RUNNING', 'The session stopped running during the turn.');
    const events = [...(options.events ?? [])];
    const justCompleted = completes && finished.from.includes(row.previous_status);
    if (justCompleted)
      events.push({
        type: 'session.status_changed',
        data: { sessionId, from: row.previous_status, to: finished.to, reason: "the agent finished the template's steps" },
      });
    if (options.checkpoint === false) await publishSessionEvents(this.deps.bus, tx, { session: row, events });
    else await this.deps.checkpoints.record(tx, { session: row, reason: justCompleted ? 'status' : 'step', step, events });
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
 * Updates the session row (bumping its version and activity), only from the statuses `onlyFrom`
 * lists when given, returning it with the status it had (or undefined when no row qualified).
 */
async function updateSession(
  tx: Executor,
  options: { sessionId: string; set: UpdateObject<DatabaseSchema, 'agent_sessions'>; onlyFrom?: SessionStatus[] | undefined },
) {
  const { sessionId, set, onlyFrom } = options;
  let update = tx
    .with('previous', (db) =>
      db.selectFrom('agent_sessions').select('status as previous_status').where('id', '=', sessionId).forNoKeyUpdate(),
    )
    .updateTable('agent_sessions')
    .from('previous')
    .set({ ...set, version: sql`version + 1`, last_active_at: sql`now()` })
    .where('agent_sessions.id', '=', sessionId);
  if (onlyFrom) update = update.where('previous.previous_status', 'in', onlyFrom);
  return update.returningAll('agent_sessions').returning('previous.previous_status').executeTakeFirst();
}
