import { sql, type Kysely } from 'kysely';

/**
 * Agents, sessions and what happens in them. A session snapshots what it runs with (template
 * version, model, system prompt, tools) so later changes to its agent or template never change a
 * running session. `version` is the optimistic lock: every write checks and bumps it, so of two
 * racing writers one wins and the other is told (SESSION_LOCKED) instead of overwriting.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('agents')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('instructions', 'text', (c) => c.notNull().defaultTo(''))
    // Null: the configured default model, whatever it is at the time a session starts.
    .addColumn('model', 'text')
    .addColumn('template_id', 'uuid', (c) => c.references('templates.id').onDelete('set null'))
    // Null: every tool the session is offered; otherwise an allow-list of tool names.
    .addColumn('tools', sql`text[]`)
    .addColumn('is_default', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('agents_user_idx').on('agents').columns(['user_id', 'created_at']).execute();
  await sql`create unique index agents_one_default_key on agents (user_id) where is_default`.execute(db);

  await db.schema
    .createTable('agent_sessions')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('agent_id', 'uuid', (c) => c.references('agents.id').onDelete('set null'))
    .addColumn('template_id', 'uuid', (c) => c.references('templates.id'))
    .addColumn('template_version', 'integer')
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('running', 'paused', 'completed', 'failed')`))
    .addColumn('context', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('variables', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('system_prompt', 'text', (c) => c.notNull())
    .addColumn('user_prompt', 'text')
    .addColumn('tools', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('message_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('tool_call_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('input_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('output_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('cost_usd', 'numeric(14, 6)', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'jsonb')
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_active_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('completed_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('agent_sessions_user_activity_idx')
    .on('agent_sessions')
    .columns(['user_id', 'last_active_at', 'id'])
    .execute();

  await db.schema
    .createTable('conversations')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    // A conversation belongs to at most one session.
    .addColumn('session_id', 'uuid', (c) => c.references('agent_sessions.id').onDelete('cascade'))
    .addColumn('title', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('conversations_session_idx').on('conversations').columns(['session_id', 'created_at']).execute();
  await db.schema.createIndex('conversations_user_idx').on('conversations').columns(['user_id', 'created_at']).execute();

  await db.schema
    .createTable('session_checkpoints')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('session_id', 'uuid', (c) => c.notNull().references('agent_sessions.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull().check(sql`reason in ('created', 'step', 'status', 'manual', 'restore')`))
    // Named checkpoints are kept whatever the retention.
    .addColumn('name', 'text')
    .addColumn('step', 'integer', (c) => c.notNull().defaultTo(0))
    // The newest message the checkpoint includes: a restore drops the ones after it.
    .addColumn('message_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('state', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('session_checkpoints_seq_key', ['session_id', 'seq'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('session_checkpoints').execute();
  await db.schema.dropTable('conversations').execute();
  await db.schema.dropTable('agent_sessions').execute();
  await db.schema.dropTable('agents').execute();
}
