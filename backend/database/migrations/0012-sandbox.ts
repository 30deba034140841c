import { sql, type Kysely } from 'kysely';

/**
 * The keyless sandbox: a mailbox, a calendar and a chat workspace of sample data per user, kept
 * here so the built-in mail, calendar and chat tools can run with no account at all.
 *
 * - `sandbox_accounts` marks a user whose sample data has been made (once, at first use; again at
 *   a reset), so data the user changed or removed is not put back behind their back.
 * - `sandbox_mail` holds messages and drafts (a draft has a `draft_id` and the DRAFT label).
 * - `sandbox_events` holds calendar events; a deleted one stays `cancelled`, as the provider's do.
 * - `sandbox_chat` holds channel messages by channel and Slack-style `ts` (fixed-width text, so
 *   it sorts as it reads); a reply carries its thread's parent `ts`.
 *
 * Searchable and ordered fields are columns; the rest of each item is jsonb in the provider's
 * shape. Every row goes with its user (`on delete cascade`). The number of rows per user is
 * capped by the code that writes them.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sandbox_accounts')
    .addColumn('user_id', 'uuid', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('seeded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('sandbox_mail')
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('thread_id', 'text', (c) => c.notNull())
    .addColumn('draft_id', 'text')
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('label_ids', 'jsonb', (c) => c.notNull())
    // from, to, cc, bcc, subject, body, replyTo, attachments
    .addColumn('message', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('sandbox_mail_pkey', ['user_id', 'id'])
    .execute();
  await db.schema.createIndex('sandbox_mail_user_received_idx').on('sandbox_mail').columns(['user_id', 'received_at']).execute();

  await db.schema
    .createTable('sandbox_events')
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('calendar_id', 'text', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('starts_at', 'timestamptz', (c) => c.notNull())
    .addColumn('ends_at', 'timestamptz', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    // The event in Google Calendar's shape (summary, start, end, attendees, organizer, …).
    .addColumn('event', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('sandbox_events_pkey', ['user_id', 'calendar_id', 'id'])
    .execute();
  await db.schema
    .createIndex('sandbox_events_user_start_idx')
    .on('sandbox_events')
    .columns(['user_id', 'calendar_id', 'starts_at'])
    .execute();

  await db.schema
    .createTable('sandbox_chat')
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('ts', 'text', (c) => c.notNull())
    .addColumn('thread_ts', 'text')
    // author (id and name), text, broadcast
    .addColumn('message', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('sandbox_chat_pkey', ['user_id', 'channel', 'ts'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('sandbox_chat').execute();
  await db.schema.dropTable('sandbox_events').execute();
  await db.schema.dropTable('sandbox_mail').execute();
  await db.schema.dropTable('sandbox_accounts').execute();
}
