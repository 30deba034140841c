import { sql, type Kysely } from 'kysely';

/**
 * Every model call a turn makes, successful or not: its model, tokens, latency, cost and error.
 * The record of what was spent, so it outlives what a restore or a deleted session removes from
 * the transcript: the monthly spend limit sums it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('model_calls')
    .addColumn('seq', 'bigserial', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    // Kept when the session or its turns are removed: the money was spent all the same.
    .addColumn('session_id', 'uuid', (c) => c.references('agent_sessions.id').onDelete('set null'))
    .addColumn('turn_id', 'uuid')
    .addColumn('step', 'integer', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('input_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('output_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cost_usd', 'numeric(14, 6)')
    .addColumn('latency_ms', 'integer', (c) => c.notNull())
    // {code, message} when the call failed.
    .addColumn('error', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('model_calls_session_idx').on('model_calls').columns(['session_id', 'seq']).execute();
  // The monthly spend check sums a user's costs since the first of the month.
  await db.schema.createIndex('model_calls_user_created_idx').on('model_calls').columns(['user_id', 'created_at']).execute();
  // What was spent before this table existed, from the answers that recorded it.
  await sql`
    insert into model_calls (user_id, session_id, turn_id, step, model, input_tokens, output_tokens, cost_usd, latency_ms, created_at)
    select user_id, session_id, turn_id, step, model, input_tokens, output_tokens, cost_usd, coalesce(latency_ms, 0), created_at
    from messages where role = 'assistant' and model is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('model_calls').execute();
}
