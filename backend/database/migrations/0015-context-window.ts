import { sql, type Kysely } from 'kysely';

/**
 * Context that fits a model's window, and session context the agent keeps:
 * - `messages.token_count`: the message's tokens as the model reads it, counted when it is written,
 *   so fitting a history to a window adds numbers instead of tokenising it again every step (null on
 *   rows older than this: estimated when read).
 * - `summary` messages: a model-written summary of a conversation's older turns, standing in for
 *   every message up to `summary_through` (a `seq`) in the model's history, and shown in the transcript.
 * - `context` checkpoints: the agent (the remember tool) or the user changed the session's context.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('messages').addColumn('token_count', 'integer').addColumn('summary_through', 'bigint').execute();
  await sql`alter table messages drop constraint messages_role_check`.execute(db);
  await sql`alter table messages add constraint messages_role_check check (role in ('user', 'assistant', 'tool', 'summary'))`.execute(db);
  await sql`alter table session_checkpoints drop constraint session_checkpoints_reason_check`.execute(db);
  await sql`alter table session_checkpoints add constraint session_checkpoints_reason_check
    check (reason in ('created', 'step', 'status', 'manual', 'restore', 'context'))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from messages where role = 'summary'`.execute(db);
  await sql`update session_checkpoints set reason = 'manual' where reason = 'context'`.execute(db);
  await sql`alter table session_checkpoints drop constraint session_checkpoints_reason_check`.execute(db);
  await sql`alter table session_checkpoints add constraint session_checkpoints_reason_check
    check (reason in ('created', 'step', 'status', 'manual', 'restore'))`.execute(db);
  await sql`alter table messages drop constraint messages_role_check`.execute(db);
  await sql`alter table messages add constraint messages_role_check check (role in ('user', 'assistant', 'tool'))`.execute(db);
  await db.schema.alterTable('messages').dropColumn('token_count').dropColumn('summary_through').execute();
}
