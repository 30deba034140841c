import { sql, type Kysely } from 'kysely';

/**
 * Chunk embeddings, several models side by side. The column has no fixed dimension; each model
 * gets its own partial HNSW index over `embedding::vector(<its dimensions>)` when it is first
 * used (knowledge/embedding-models.ts), and a search names one model, so vectors of two models are
 * never compared. `user_id` is copied from the chunk so the nearest-neighbour scan filters by
 * owner inside the index scan.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('kb_embedding_models')
    .addColumn('model', 'text', (c) => c.primaryKey())
    .addColumn('dimensions', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('building', 'active', 'retired')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('activated_at', 'timestamptz')
    .execute();
  // At most one model answers searches.
  await sql`create unique index kb_embedding_models_one_active on kb_embedding_models ((true)) where state = 'active'`.execute(db);

  await db.schema
    .createTable('kb_embeddings')
    .addColumn('chunk_id', 'uuid', (c) => c.notNull().references('kb_chunks.id').onDelete('cascade'))
    .addColumn('model', 'text', (c) => c.notNull().references('kb_embedding_models.model'))
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('embedding', sql`vector`, (c) => c.notNull())
    .addPrimaryKeyConstraint('kb_embeddings_pkey', ['chunk_id', 'model'])
    .execute();
  await sql`create index kb_embeddings_model_user_idx on kb_embeddings (model, user_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('kb_embeddings').execute();
  await db.schema.dropTable('kb_embedding_models').execute();
}
