import { sql, type Kysely } from 'kysely';

/**
 * Agents get a slug: a name a client can type where it names a model (the OpenAI-compatible
 * endpoint's `model`), unique per user, `[a-z0-9-]`. Existing agents get one from their name; a
 * name two agents share gets the id's first characters after it, so the back-fill never collides.
 *
 * The default makes the column safe for an older instance that inserts agents without a slug
 * (expand-then-contract): its agents get a random one, which the user may change.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('agents')
    .addColumn('slug', 'text', (c) => c.notNull().defaultTo(sql`'agent-' || left(replace(gen_random_uuid()::text, '-', ''), 12)`))
    .execute();
  await sql`
    with derived as (
      select id, user_id, created_at,
        coalesce(nullif(trim(both '-' from left(regexp_replace(lower(name), '[^a-z0-9]+', '-', 'g'), 60)), ''), 'agent') as base
      from agents
    ), numbered as (
      select id, base, row_number() over (partition by user_id, base order by created_at, id) as n from derived
    )
    update agents set slug = case when numbered.n = 1 then numbered.base else numbered.base || '-' || left(agents.id::text, 8) end
    from numbered where agents.id = numbered.id`.execute(db);
  await db.schema.createIndex('agents_user_slug_key').on('agents').columns(['user_id', 'slug']).unique().execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('agents_user_slug_key').execute();
  await db.schema.alterTable('agents').dropColumn('slug').execute();
}
