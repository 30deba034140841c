import { sql } from 'kysely';
import type { PostgresDatabase } from '../database/index.ts';
import { removeTopicEvents } from '../events/index.ts';
import { sessionTopic } from './session-events.ts';

/**
 * Removes completed and failed sessions inactive for `retentionDays`, with their conversations,
 * messages, turns, tool-call ledger and checkpoints (by cascade) and their events, a batch at a
 * time so no long lock is held, and conversations that never got a session. Model-call records
 * stay: they are what was spent. Runs at start and hourly in the server, and as `agentry sessions
 * cleanup`.
 */
export async function removeFinishedSessions(database: PostgresDatabase, retentionDays: number, batchSize = 500): Promise<number> {
  if (retentionDays <= 0) return 0;
  let removed = 0;
  for (;;) {
    const batch = await database.transaction(async (tx) => {
      const gone = await tx
        .deleteFrom('agent_sessions')
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('agent_sessions')
            .select('id')
            .where('status', 'in', ['completed', 'failed'])
            .where('last_active_at', '<', sql<Date>`now() - make_interval(days => ${retentionDays}::int)`)
            .limit(batchSize)
            .forUpdate()
            .skipLocked(),
        )
        .returning(['id', 'user_id'])
        .execute();
      await removeTopicEvents(
        tx,
        gone.map((g) => ({ userId: g.user_id, topic: sessionTopic(g.id) })),
      );
      return gone.length;
    });
    removed += batch;
    if (batch < batchSize) break;
  }
  // Conversations started on their own and never used (a first message would have given them a session).
  await database.db
    .deleteFrom('conversations')
    .where('session_id', 'is', null)
    .where('created_at', '<', sql<Date>`now() - make_interval(days => ${retentionDays}::int)`)
    .execute();
  return removed;
}
