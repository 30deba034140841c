import { sql, type Kysely } from 'kysely';

/**
 * Workflows that run on their own, and what they tell their users.
 *
 * - `triggers`: a user's schedule, webhook or integration-event trigger. What it runs (template or
 *   agent, variables, kind settings) is versioned in `trigger_versions`; the row keeps the live
 *   state: paused or active, the next instant it is due (`next_fire_at`, schedules and polls), the
 *   failures in a row, a poll's watermark, and a webhook's secrets (AES-256-GCM sealed; the
 *   previous one kept until `previous_secret_expires_at` after a rotation).
 * - `trigger_firings`: one row per firing, unique by (trigger, key): the key is the scheduled
 *   instant, the webhook delivery id or the polled item's id, so two instances never both fire
 *   it. A firing is claimed under a lease (owner + expiry) while its session starts; a crash leaves
 *   the lease to expire and any instance starts it, once (`agent_sessions.trigger_firing_id` is
 *   unique, so a session already made for the firing is found, not made again).
 * - `notifications`: what a user is told (a run finished, failed, a trigger paused itself).
 *
 * Added columns and tables only, with defaults: older instances keep working.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('triggers')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
    .addColumn('paused_reason', 'text')
    .addColumn('next_fire_at', 'timestamptz')
    .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('watermark', 'jsonb')
    .addColumn('secret', 'bytea')
    .addColumn('secret_key_id', 'text')
    .addColumn('previous_secret', 'bytea')
    .addColumn('previous_secret_key_id', 'text')
    .addColumn('previous_secret_expires_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('triggers_user_idx').on('triggers').columns(['user_id', 'created_at']).execute();
  await sql`create index triggers_due_idx on triggers (next_fire_at) where status = 'active' and next_fire_at is not null`.execute(db);

  await db.schema
    .createTable('trigger_versions')
    .addColumn('trigger_id', 'uuid', (c) => c.notNull().references('triggers.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    // What a run of this version starts: template or agent, variables, the kind's settings, policies.
    .addColumn('definition', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('trigger_versions_pkey', ['trigger_id', 'version'])
    .execute();

  await db.schema
    .createTable('trigger_firings')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('trigger_id', 'uuid', (c) => c.notNull().references('triggers.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('trigger_version', 'integer', (c) => c.notNull())
    .addColumn('fire_key', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('scheduled_at', 'timestamptz')
    // Variables the firing brings (a webhook's mapped payload, a polled item's fields).
    .addColumn('input', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'timestamptz')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('session_id', 'uuid', (c) => c.references('agent_sessions.id').onDelete('set null'))
    .addColumn('outcome', 'text')
    .addColumn('error', 'jsonb')
    .addColumn('fired_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addUniqueConstraint('trigger_firings_key', ['trigger_id', 'fire_key'])
    .execute();
  await db.schema.createIndex('trigger_firings_history_idx').on('trigger_firings').columns(['trigger_id', 'fired_at']).execute();
  await sql`create index trigger_firings_open_idx on trigger_firings (status, lease_expires_at) where status in ('pending', 'queued', 'starting')`.execute(
    db,
  );
  await sql`create index trigger_firings_running_idx on trigger_firings (user_id, trigger_id) where status = 'started' and outcome is null`.execute(
    db,
  );
  await db.schema.createIndex('trigger_firings_session_idx').on('trigger_firings').column('session_id').execute();

  await db.schema
    .alterTable('agent_sessions')
    .addColumn('unattended', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('trigger_firing_id', 'uuid', (c) => c.unique())
    .execute();

  await db.schema
    .createTable('notifications')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('data', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('read_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('notifications_user_idx').on('notifications').columns(['user_id', 'created_at']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('notifications').execute();
  await db.schema.alterTable('agent_sessions').dropColumn('trigger_firing_id').dropColumn('unattended').execute();
  await db.schema.dropTable('trigger_firings').execute();
  await db.schema.dropTable('trigger_versions').execute();
  await db.schema.dropTable('triggers').execute();
}
