import { sql } from 'kysely';
import type { Executor, TurnStatus } from '../database/index.ts';
import type { ReportedError } from '../errors.ts';
import type { AgentryEvent } from '../events/index.ts';

/**
 * Ends a turn that no execution is recording the end of (one awaiting a decision, one recovered
 * too often): its status, its error, the steps it recorded, no lease. Only if it is still as
 * `expected` says (awaiting a decision, or held by a lease token). Returns the `turn.ended` event
 * to publish with the change, or undefined when the turn had moved on.
 */
export async function endTurn(
  tx: Executor,
  turnId: string,
  expected: { status: 'suspended' } | { leaseOwner: string },
  end: { status: Exclude<TurnStatus, 'running' | 'suspended'>; error?: ReportedError | undefined },
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
  const row = await update.returning(['session_id', 'steps', 'error']).executeTakeFirst();
  if (!row) return undefined;
  const error = row.error as ReportedError | null;
  return {
    type: 'turn.ended',
    data: { sessionId: row.session_id, turnId, status: end.status, steps: row.steps, ...(error ? { error } : {}) },
  };
}
