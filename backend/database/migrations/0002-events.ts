import { sql, type Kysely } from 'kysely';

/**
 * The durable event log behind the WebSocket gateway (the outbox). Ids are handed out in commit
 * order (see backend/src/events/event-store.ts), so a reader that has seen id N never later sees
 * a smaller id commit.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('topic', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('events_user_topic_id_idx').on('events').columns(['user_id', 'topic', 'id']).execute();
  await db.schema.createIndex('events_user_id_idx').on('events').columns(['user_id', 'id']).execute();
  await db.schema.createIndex('events_at_idx').on('events').column('at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('events').execute();
}
