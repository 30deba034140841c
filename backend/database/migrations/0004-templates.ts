import { sql, type Kysely } from 'kysely';

/**
 * Workflow templates. A template is an identity (id, owner, slug); its content lives in immutable
 * versions, so a session keeps the exact version it started with. Built-ins have no owner and are
 * synced from the YAML library at start; a built-in dropped from the library is retired, not
 * deleted, and a user's template is soft-deleted, so sessions that reference them still resolve.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('templates')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('slug', 'text', (c) => c.notNull())
    .addColumn('latest_version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('deleted_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('templates_builtin_slug_key')
    .on('templates')
    .column('slug')
    .unique()
    .where(sql.ref('user_id'), 'is', null)
    .execute();
  await sql`create unique index templates_user_slug_key on templates (user_id, slug) where user_id is not null and deleted_at is null`.execute(
    db,
  );
  await db.schema
    .createTable('template_versions')
    .addColumn('template_id', 'uuid', (c) => c.notNull().references('templates.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('definition', 'jsonb', (c) => c.notNull())
    .addColumn('checksum', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('template_versions_pkey', ['template_id', 'version'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('template_versions').execute();
  await db.schema.dropTable('templates').execute();
}
