import type { Selectable } from 'kysely';
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
