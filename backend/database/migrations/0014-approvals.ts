import { sql, type Kysely } from 'kysely';

/**
 * Human approval of tool calls.
 *
 * - A call that policy says to `ask` about waits in the ledger as `awaiting_approval`, with a row
 *   in `tool_approvals` (the request, its expiry and, once made, the one decision on it: who,
 *   when, approved, edited, denied, expired or dropped). `tool_calls.approval` mirrors the
 *   decision, so the loop reads it with the step's calls and asks nothing more of calls allowed.
 * - A turn whose step waits for approvals is `awaiting_approval`: it holds no lease, and it is an
 *   unfinished turn (the one-per-session index covers it), but its session stays `running`.
 * - `tool_approval_rules`: the user's "always allow this tool for this agent" rules.
 * - `agents.approval_rules`: the agent's own rules; `integration_tools.read_only`: the server said
 *   `readOnlyHint` and its annotations are trusted, so its calls are allowed by default.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table tool_calls drop constraint tool_calls_status_check`.execute(db);
  await sql`alter table tool_calls add constraint tool_calls_status_check
    check (status in ('pending', 'awaiting_approval', 'started', 'completed', 'skipped'))`.execute(db);
  await db.schema
    .alterTable('tool_calls')
    .addColumn('approval', 'text', (c) => c.check(sql`approval in ('approved', 'denied', 'expired', 'dropped')`))
    .execute();

  await sql`alter table turns drop constraint turns_status_check`.execute(db);
  await sql`alter table turns add constraint turns_status_check
    check (status in ('running', 'suspended', 'awaiting_approval', 'completed', 'failed', 'cancelled', 'step_limit'))`.execute(db);
  await sql`drop index turns_one_unfinished_idx`.execute(db);
  await sql`create unique index turns_one_unfinished_idx on turns (session_id) where status in ('running', 'suspended', 'awaiting_approval')`.execute(
    db,
  );

  await db.schema
    .createTable('tool_approvals')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('tool_call_id', 'uuid', (c) => c.notNull().unique().references('tool_calls.id').onDelete('cascade'))
    .addColumn('session_id', 'uuid', (c) => c.notNull().references('agent_sessions.id').onDelete('cascade'))
    .addColumn('turn_id', 'uuid', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('agent_id', 'uuid')
    .addColumn('call_id', 'text', (c) => c.notNull())
    .addColumn('tool', 'text', (c) => c.notNull())
    .addColumn('input', 'jsonb')
    .addColumn('input_schema', 'jsonb')
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`status in ('pending', 'approved', 'denied', 'expired', 'dropped')`),
    )
    .addColumn('edited', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('note', 'text')
    .addColumn('decided_by', 'uuid')
    .addColumn('decided_at', 'timestamptz')
    .addColumn('expires_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index tool_approvals_pending_idx on tool_approvals (user_id, created_at) where status = 'pending'`.execute(db);
  await sql`create index tool_approvals_expiry_idx on tool_approvals (expires_at) where status = 'pending'`.execute(db);
  await db.schema.createIndex('tool_approvals_turn_idx').on('tool_approvals').column('turn_id').execute();

  await db.schema
    .createTable('tool_approval_rules')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('agent_id', 'uuid', (c) => c.references('agents.id').onDelete('cascade'))
    .addColumn('tool', 'text', (c) => c.notNull())
    .addColumn('decision', 'text', (c) => c.notNull().check(sql`decision in ('allow', 'ask', 'deny')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index tool_approval_rules_unique_idx on tool_approval_rules (user_id, agent_id, tool) nulls not distinct`.execute(
    db,
  );

  await db.schema
    .alterTable('agents')
    .addColumn('approval_rules', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .execute();
  await db.schema
    .alterTable('integration_tools')
    .addColumn('read_only', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('integration_tools').dropColumn('read_only').execute();
  await db.schema.alterTable('agents').dropColumn('approval_rules').execute();
  await db.schema.dropTable('tool_approval_rules').execute();
  await db.schema.dropTable('tool_approvals').execute();
  // A turn waiting for approval is cancelled: the older version cannot resume it.
  await sql`update turns set status = 'cancelled', finished_at = now() where status = 'awaiting_approval'`.execute(db);
  await sql`drop index turns_one_unfinished_idx`.execute(db);
  await sql`create unique index turns_one_unfinished_idx on turns (session_id) where status in ('running', 'suspended')`.execute(db);
  await sql`alter table turns drop constraint turns_status_check`.execute(db);
  await sql`alter table turns add constraint turns_status_check
    check (status in ('running', 'suspended', 'completed', 'failed', 'cancelled', 'step_limit'))`.execute(db);
  await sql`update tool_calls set status = 'skipped', is_error = true where status = 'awaiting_approval'`.execute(db);
  await db.schema.alterTable('tool_calls').dropColumn('approval').execute();
  await sql`alter table tool_calls drop constraint tool_calls_status_check`.execute(db);
  await sql`alter table tool_calls add constraint tool_calls_status_check check (status in ('pending', 'started', 'completed', 'skipped'))`.execute(
    db,
  );
}
