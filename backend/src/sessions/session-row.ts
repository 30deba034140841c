import { sql, type Selectable } from 'kysely';
import type { AgentSessionsTable, Executor } from '../database/index.ts';
import { AppError } from '../errors.ts';

/** A row of `agent_sessions` as the sessions area reads it. */
export type SessionRow = Selectable<AgentSessionsTable>;

/**
 * The user's session, or 404 SESSION_NOT_FOUND: one answer for a session that does not exist and
 * one that is someone else's, so ids cannot be probed.
 */
export async function findSession(executor: Executor, key: { userId: string; id: string }): Promise<SessionRow> {
  const row = await executor
    .selectFrom('agent_sessions')
    .selectAll()
    .where('id', '=', key.id)
    .where('user_id', '=', key.userId)
    .executeTakeFirst();
  if (!row) throw new AppError('SESSION_NOT_FOUND');
  return row;
}

/**
 * Locks the session's row: the first lock of every transaction that writes a session and its
 * turn, so a step never deadlocks with a status change or a delete.
 */
export async function lockSession(tx: Executor, sessionId: string): Promise<void> {
  await tx.selectFrom('agent_sessions').select('id').where('id', '=', sessionId).forNoKeyUpdate().execute();
}

/**
 * A session row `s` of a statement's part as JSON, with its bigints and numeric as the text a read
 * of the table gives (they arrive as strings; JSON would make numbers of them): see sessionFromJson.
 */
export function sessionJson(alias: string) {
  const s = sql.table(alias);
  return sql<SessionJson>`(to_jsonb(${s}) - 'previous_status') || jsonb_build_object('input_tokens', ${s}.input_tokens::text,
    'output_tokens', ${s}.output_tokens::text, 'cost_usd', ${s}.cost_usd::text)`;
}

/** A session row as sessionJson gives it: its timestamps as text. */
export type SessionJson = Omit<SessionRow, 'started_at' | 'last_active_at' | 'completed_at'> & {
  started_at: string;
  last_active_at: string;
  completed_at: string | null;
};

/** The row as a read of the table gives it. */
export function sessionFromJson(row: SessionJson): SessionRow {
  return {
    ...row,
    started_at: new Date(row.started_at),
    last_active_at: new Date(row.last_active_at),
    completed_at: row.completed_at === null ? null : new Date(row.completed_at),
  };
}
