import { sql, type Kysely } from 'kysely';

/**
 * Turns and messages. A turn is one user message and everything the agent does in reply, in
 * steps (one model call plus the tool calls it asks for). Messages are ordered by `seq`; each
 * assistant message carries the tool calls it asked for, its usage and cost, and each tool result
 * is a message of its own.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('turns')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('session_id', 'uuid', (c) => c.notNull().references('agent_sessions.id').onDelete('cascade'))
    .addColumn('conversation_id', 'uuid', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('running', 'completed', 'failed', 'cancelled', 'step_limit')`))
    .addColumn('steps', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'jsonb')
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('turns_session_idx').on('turns').columns(['session_id', 'started_at']).execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('seq', 'bigserial', (c) => c.notNull().unique())
    .addColumn('conversation_id', 'uuid', (c) => c.notNull().references('conversations.id').onDelete('cascade'))
    .addColumn('session_id', 'uuid', (c) => c.notNull().references('agent_sessions.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('turn_id', 'uuid', (c) => c.notNull().references('turns.id').onDelete('cascade'))
    .addColumn('step', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('user', 'assistant', 'tool')`))
    .addColumn('content', 'text', (c) => c.notNull().defaultTo(''))
    // Assistant messages: the tool calls the model asked for, [{callId, tool, input}].
    .addColumn('tool_calls', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    // Tool messages: which call this answers, and its result (or error).
    .addColumn('tool_call_id', 'text')
    .addColumn('tool_name', 'text')
    .addColumn('tool_result', 'jsonb')
    .addColumn('is_error', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('model', 'text')
    .addColumn('input_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('output_tokens', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cost_usd', 'numeric(14, 6)')
    .addColumn('latency_ms', 'integer')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('messages_conversation_seq_idx').on('messages').columns(['conversation_id', 'seq']).execute();
  await db.schema.createIndex('messages_session_seq_idx').on('messages').columns(['session_id', 'seq']).execute();
  // The monthly spend check sums a user's costs since the first of the month.
  await db.schema.createIndex('messages_user_created_idx').on('messages').columns(['user_id', 'created_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('messages').execute();
  await db.schema.dropTable('turns').execute();
}
