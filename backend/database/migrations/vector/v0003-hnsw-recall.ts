import { sql, type Kysely } from 'kysely';

/**
 * Rebuilds the embedding models' HNSW indexes with `m = 32, ef_construction = 64` (pgvector's
 * defaults are 16 and 64), the parameters new models' indexes get (knowledge/embedding-models.ts):
 * with the defaults, searches found 0.91 of the exact nearest ten at 20k chunks, short of the 0.95
 * promised. The rebuild takes about as long as building the index did, once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await rebuild(db, sql`set (m = 32, ef_construction = 64)`);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await rebuild(db, sql`reset (m, ef_construction)`);
}

async function rebuild(db: Kysely<unknown>, change: ReturnType<typeof sql>): Promise<void> {
  const { rows } = await sql<{ name: string }>`
    select indexname as name from pg_indexes
     where schemaname = current_schema() and tablename = 'kb_embeddings' and indexname like 'kb\\_embeddings\\_hnsw\\_%'`.execute(db);
  for (const { name } of rows) {
    await sql`alter index ${sql.id(name)} ${change}`.execute(db);
    await sql`reindex index ${sql.id(name)}`.execute(db);
  }
}
