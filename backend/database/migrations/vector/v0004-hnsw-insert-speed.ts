import { sql, type Kysely } from 'kysely';

/**
 * Rebuilds the embedding models' HNSW indexes with `m = 16, ef_construction = 64` (pgvector's
 * defaults), the parameters new models' indexes get (knowledge/embedding-models.ts), undoing
 * v0003's `m = 32`: on real prose the thinner graph finds as many of the exact nearest ten
 * (recall@10 0.99 at 20k chunks on both databases), and inserting a vector into it costs about a
 * quarter as much, which is what bounds ingestion on the embedded database. The rebuild takes
 * about as long as building the index did, once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await rebuild(db, sql`set (m = 16, ef_construction = 64)`);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await rebuild(db, sql`set (m = 32, ef_construction = 64)`);
}

/** Sets `change` on every embedding model's HNSW index and rebuilds the index with it. */
export async function rebuild(db: Kysely<unknown>, change: ReturnType<typeof sql>): Promise<void> {
  const { rows } = await sql<{ name: string }>`
    select indexname as name from pg_indexes
     where schemaname = current_schema() and tablename = 'kb_embeddings' and indexname like 'kb\\_embeddings\\_hnsw\\_%'`.execute(db);
  for (const { name } of rows) {
    await sql`alter index ${sql.id(name)} ${change}`.execute(db);
    await sql`reindex index ${sql.id(name)}`.execute(db);
  }
}
