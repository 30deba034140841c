import { randomUUID } from 'node:crypto';
import { sql, type Expression } from 'kysely';
import { toJsonText, type CheckpointReason, type CheckpointState, type Executor, type PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';
import type { AgentryEvent, ChangeExpressions, EventBus } from '../events/index.ts';
import { insertFrom } from './gated-insert.ts';
import { firstConversation } from './session-conversations.ts';
import { publishSessionEvents } from './session-events.ts';
import { findSession, type SessionRow } from './session-row.ts';
import { assertTransition, systemEdge } from './session-status.ts';
import { toSessionView, type SessionView } from './session-view.ts';

export interface CheckpointView {
  id: string;
  seq: number;
  reason: CheckpointReason;
  name: string | null;
  step: number;
  createdAt: string;
}

export interface SessionCheckpointsDeps {
  database: PostgresDatabase;
  bus: EventBus;
  /** Unnamed checkpoints kept per session; named ones are always kept. */
  retention: number;
}

/**
 * A session's checkpoints: its state (status, context, version, counters) and how far its messages
 * went, recorded with every change so it can be continued from there. Unnamed ones are pruned past
 * the retention; named ones are kept.
 */
export class SessionCheckpoints {
  constructor(private readonly deps: SessionCheckpointsDeps) {}

  /**
   * Records the session's state as a checkpoint and announces it after the change's own events,
   * in one statement that also prunes unnamed ones past retention. Runs inside the change's
   * transaction; returns the checkpoint's id.
   */
  async record(
    tx: Executor,
    options: { session: SessionRow; reason: CheckpointReason; name?: string | undefined; step?: number; events?: AgentryEvent[] },
  ): Promise<string> {
    const { session, reason, name, step = 0, events = [] } = options;
    const state: CheckpointState = {
      status: session.status,
      context: session.context,
      version: session.version,
      counters: { messages: session.message_count, toolCalls: session.tool_call_count, errors: session.error_count },
    };
    const { id, after, event } = this.recording({ sessionId: session.id, userId: session.user_id, reason, name, step, state });
    await publishSessionEvents(this.deps.bus, tx, { session, events: [...events, event], after });
    return id;
  }

  /**
   * A checkpoint as parts of the statement that publishes its event (see ChangeExpressions):
   * `pruned` removes unnamed ones past retention, then `checkpoint` records it; `event` announces
   * it, after the change's own events. `state` may be SQL (the row a session update of the same
   * statement returns), and `messageSeq` how far the messages went when the same statement
   * inserts some (by default the highest `seq` the table held). With `from`, both write only if
   * that part of the statement returned a row (see insertFrom).
   */
  recording(options: {
    sessionId: string;
    userId: string;
    reason: CheckpointReason;
    name?: string | undefined;
    step: number;
    state: CheckpointState | Expression<CheckpointState>;
    messageSeq?: Expression<string>;
    from?: string;
  }): { id: string; after: ChangeExpressions; event: AgentryEvent } {
    const { sessionId, step, from } = options;
    const id = randomUUID(); // chosen here: the event that announces it goes in the same statement
    // The statement reads the table as it was: the new checkpoint's seq is the highest there plus one.
    const nextSeq = sql<number>`(select coalesce(max(seq), 0) + 1 from session_checkpoints where session_id = ${sessionId})`;
    const { db } = this.deps.database;
    let pruned = db
      .deleteFrom('session_checkpoints')
      .where('session_id', '=', sessionId)
      .where('name', 'is', null)
      .where('seq', '<=', sql<number>`${nextSeq} - ${this.deps.retention}`);
    if (from) pruned = pruned.where(sql<boolean>`exists (select 1 from ${sql.table(from)})`);
    const checkpoint = insertFrom(
      db,
      'session_checkpoints',
      {
        id,
        session_id: sessionId,
        user_id: options.userId,
        seq: nextSeq,
        reason: options.reason,
        name: options.name ?? null,
        step,
        message_seq: options.messageSeq ?? sql<string>`(select coalesce(max(seq), 0) from messages where session_id = ${sessionId})`,
        state: options.state,
      },
      { from },
    ).returning('id');
    return {
      id,
      after: [
        ['pruned', pruned],
        ['checkpoint', checkpoint],
      ],
      event: { type: 'session.checkpoint', data: { sessionId, checkpointId: id, step } },
    };
  }

  /** Takes a checkpoint on request, optionally named (named ones outlive retention). */
  async take(options: { userId: string; id: string; name?: string | undefined }): Promise<CheckpointView> {
    const { userId, id, name } = options;
    return this.deps.database.transaction(async (tx) => {
      const row = await tx
        .selectFrom('agent_sessions')
        .selectAll()
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .forUpdate()
        .executeTakeFirst();
      if (!row) throw new AppError('SESSION_NOT_FOUND');
      const checkpointId = await this.record(tx, { session: row, reason: 'manual', name });
      const checkpoint = await tx.selectFrom('session_checkpoints').selectAll().where('id', '=', checkpointId).executeTakeFirstOrThrow();
      return toCheckpointView(checkpoint);
    });
  }

  /** The session's checkpoints, newest first. */
  async list(options: { userId: string; id: string }): Promise<CheckpointView[]> {
    await findSession(this.deps.database.db, options);
    const rows = await this.deps.database.db
      .selectFrom('session_checkpoints')
      .selectAll()
      .where('session_id', '=', options.id)
      .orderBy('seq', 'desc')
      .execute();
    return rows.map(toCheckpointView);
  }

  /** How many checkpoints the session has and its newest, for the session's detail view. */
  async summary(executor: Executor, sessionId: string): Promise<{ count: number; latest: CheckpointView | null }> {
    const [count, latest] = await Promise.all([
      executor
        .selectFrom('session_checkpoints')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('session_id', '=', sessionId)
        .executeTakeFirstOrThrow(),
      executor
        .selectFrom('session_checkpoints')
        .selectAll()
        .where('session_id', '=', sessionId)
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst(),
    ]);
    return { count: Number(count.n), latest: latest ? toCheckpointView(latest) : null };
  }

  /**
   * Continues the session from a checkpoint: messages after it are removed (the turns that wrote
   * them too), its context and counts come back, and the session is running again. Tokens and
   * cost stay: they were spent. The caller makes sure no turn is running.
   */
  async restore(options: { userId: string; id: string; checkpointId: string }): Promise<SessionView> {
    const { userId, id, checkpointId } = options;
    const current = await findSession(this.deps.database.db, { userId, id });
    // The update below is guarded by the version, so the status read here is the one it leaves.
    const restored = systemEdge('restore');
    if (current.status !== restored.to) assertTransition(current.status, restored.to, 'system');
    return this.deps.database.transaction(async (tx) => {
      const unfinished = await tx
        .selectFrom('turns')
        .select('status')
        .where('session_id', '=', id)
        .where('status', 'in', ['running', 'suspended', 'awaiting_approval'])
        .executeTakeFirst();
      if (unfinished?.status === 'awaiting_approval')
        throw new AppError('APPROVAL_PENDING', 'A tool call of this session awaits your approval: decide on it before restoring.');
      if (unfinished?.status === 'running')
        throw new AppError('SESSION_BUSY', 'A turn is running in this session: cancel it before restoring.');
      if (unfinished)
        throw new AppError('TOOL_OUTCOME_UNKNOWN', 'A tool call of this session may or may not have run: resolve it before restoring.');
      const checkpoint = await tx
        .selectFrom('session_checkpoints')
        .selectAll()
        .where('id', '=', checkpointId)
        .where('session_id', '=', id)
        .executeTakeFirst();
      if (!checkpoint) throw new AppError('CHECKPOINT_NOT_FOUND');
      const { state } = checkpoint;
      const row = await tx
        .updateTable('agent_sessions')
        .set({
          status: 'running',
          context: toJsonText(state.context ?? {}),
          message_count: state.counters.messages,
          tool_call_count: state.counters.toolCalls,
          error_count: state.counters.errors,
          completed_at: null,
          version: sql`version + 1`,
          last_active_at: sql`now()`,
        })
        .where('id', '=', id)
        .where('version', '=', current.version)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw new AppError('SESSION_LOCKED');
      await tx.deleteFrom('messages').where('session_id', '=', id).where('seq', '>', checkpoint.message_seq).execute();
      await tx
        .deleteFrom('turns')
        .where('session_id', '=', id)
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('messages').select('messages.id').whereRef('messages.turn_id', '=', 'turns.id'))),
        )
        .execute();
      const events: AgentryEvent[] =
        current.status === 'running'
          ? []
          : [
              {
                type: 'session.status_changed',
                data: { sessionId: id, from: current.status, to: 'running', reason: `restored to checkpoint ${checkpoint.seq}` },
              },
            ];
      await this.record(tx, { session: row, reason: 'restore', step: checkpoint.step, events });
      return toSessionView(row, await firstConversation(tx, id));
    });
  }
}

/**
 * A checkpoint's state (see SessionCheckpoints.record) in SQL, from the session row that the part
 * `part` of the same statement returns: a session update's, whose writes the statement's other
 * parts cannot read from the table.
 */
export function checkpointStateOf(part: string) {
  return sql<CheckpointState>`(select jsonb_build_object('status', s.status, 'context', s.context, 'version', s.version,
    'counters', jsonb_build_object('messages', s.message_count, 'toolCalls', s.tool_call_count, 'errors', s.error_count))
    from ${sql.table(part)} as s)`;
}

function toCheckpointView(row: {
  id: string;
  seq: number;
  reason: CheckpointReason;
  name: string | null;
  step: number;
  created_at: Date;
}): CheckpointView {
  return { id: row.id, seq: row.seq, reason: row.reason, name: row.name, step: row.step, createdAt: row.created_at.toISOString() };
}
