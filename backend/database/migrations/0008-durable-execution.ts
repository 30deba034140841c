import { sql, type Kysely } from 'kysely';

/**
 * Durable execution: the tool-call ledger and turn leases.
 *
 * - `tool_calls` records every tool call before it runs, under its idempotency key
 *   (session:turn:step:index), and its result before the next step starts. After a crash a
 *   finished call is never repeated, and an unfinished one is repeated only if its tool is
 *   idempotent.
 * - A running turn is leased by one instance (`lease_owner`, `lease_expires_at`), renewed by a
 *   heartbeat and checked by every write of the turn; an expired lease is reclaimed and the turn
 *   resumed from its last checkpoint. A turn whose tool outcome is unknown is `suspended` until
 *   the user resolves it.
 * - At most one unfinished turn per session, across instances; no step is recorded twice.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('tool_calls')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
    .addColumn('session_id', 'uuid', (c) => c.notNull().references('agent_sessions.id').onDelete('cascade'))
    .addColumn('turn_id', 'uuid', (c) => c.notNull().references('turns.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('step', 'integer', (c) => c.notNull())
    .addColumn('call_index', 'integer', (c) => c.notNull())
    .addColumn('call_id', 'text', (c) => c.notNull())
    .addColumn('tool', 'text', (c) => c.notNull())
    .addColumn('input', 'jsonb')
    .addColumn('idempotent', 'boolean', (c) => c.notNull())
    // pending: recorded, not begun; started: may have run; completed: result recorded; skipped: the user chose not to run it.
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`status in ('pending', 'started', 'completed', 'skipped')`),
    )
    .addColumn('result', 'jsonb')
    .addColumn('is_error', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('duration_ms', 'integer')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('tool_calls_turn_idx').on('tool_calls').columns(['turn_id', 'step', 'call_index']).execute();

  await db.schema
    .alterTable('turns')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'timestamptz')
    .addColumn('recoveries', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cancel_requested', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  // Turns an earlier version left running when its process stopped never end by themselves (that
  // version had no recovery): they end here, so the index below can hold.
  await sql`
    update turns set status = 'failed', finished_at = now(),
      error = '{"code": "INTERRUPTED", "message": "The server stopped during this turn, before turns could be resumed."}'::jsonb
    where status = 'running'`.execute(db);
  await sql`alter table turns drop constraint turns_status_check`.execute(db);
  await sql`alter table turns add constraint turns_status_check check (status in ('running', 'suspended', 'completed', 'failed', 'cancelled', 'step_limit'))`.execute(
    db,
  );
  await sql`create unique index turns_one_unfinished_idx on turns (session_id) where status in ('running', 'suspended')`.execute(db);
  await sql`create index turns_lease_idx on turns (lease_expires_at) where status = 'running'`.execute(db);
  await sql`create unique index messages_assistant_step_idx on messages (turn_id, step) where role = 'assistant'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index messages_assistant_step_idx`.execute(db);
  await sql`drop index turns_lease_idx`.execute(db);
  await sql`drop index turns_one_unfinished_idx`.execute(db);
  await sql`update turns set status = 'failed' where status = 'suspended'`.execute(db);
  // Turns an earlier version left running when its process stopped never end by themselves (that
  // version had no recovery): they end here, so the index below can hold.
  await sql`
    update turns set status = 'failed', finished_at = now(),
      error = '{"code": "INTERRUPTED", "message": "The server stopped during this turn, before turns could be resumed."}'::jsonb
    where status = 'running'`.execute(db);
  await sql`alter table turns drop constraint turns_status_check`.execute(db);
  await sql`alter table turns add constraint turns_status_check check (status in ('running', 'completed', 'failed', 'cancelled', 'step_limit'))`.execute(
    db,
  );
  await db.schema
    .alterTable('turns')
    .dropColumn('lease_owner')
    .dropColumn('lease_expires_at')
    .dropColumn('recoveries')
    .dropColumn('cancel_requested')
    .execute();
  await db.schema.dropTable('tool_calls').execute();
}
