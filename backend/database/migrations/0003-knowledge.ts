import { sql, type Kysely } from 'kysely';

/**
 * Knowledge-base documents and their chunks, with full-text search over the chunks. The vectors
 * live in the vector track (v0002-knowledge-embeddings), so a server without pgvector still
 * migrates this.
 *
 * A document's chunks carry the document version they were cut from; search sees only the
 * document's `active_version`, so re-chunking a changed document is invisible until it completes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('kb_documents')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('source', 'text')
    .addColumn('tags', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('metadata', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('file_name', 'text')
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('size_bytes', 'bigint', (c) => c.notNull())
    .addColumn('checksum', 'text', (c) => c.notNull())
    .addColumn('storage_key', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('redactions', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('chunk_size', 'integer', (c) => c.notNull())
    .addColumn('chunk_overlap', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'processing', 'completed', 'failed')`))
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('active_version', 'integer')
    .addColumn('chunk_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('embedding_model', 'text')
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('processed_at', 'timestamptz')
    .execute();
  // The same bytes uploaded twice by one user are one document.
  await sql`create unique index kb_documents_user_checksum_key on kb_documents (user_id, checksum)`.execute(db);
  await sql`create index kb_documents_user_created_idx on kb_documents (user_id, created_at desc, id)`.execute(db);
  await sql`create index kb_documents_unfinished_idx on kb_documents (status) where status in ('pending', 'processing')`.execute(db);

  await db.schema
    .createTable('kb_chunks')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('document_id', 'uuid', (c) => c.notNull().references('kb_documents.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('chunk_index', 'integer', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('token_count', 'integer', (c) => c.notNull())
    .addColumn('char_start', 'integer', (c) => c.notNull())
    .addColumn('char_end', 'integer', (c) => c.notNull())
    .addColumn('tsv', sql`tsvector`, (c) => c.generatedAlwaysAs(sql`to_tsvector('english', content)`).stored())
    .execute();
  await sql`create unique index kb_chunks_document_version_index_key on kb_chunks (document_id, version, chunk_index)`.execute(db);
  await sql`create index kb_chunks_tsv_idx on kb_chunks using gin (tsv)`.execute(db);
  await sql`create index kb_chunks_user_idx on kb_chunks (user_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('kb_chunks').execute();
  await db.schema.dropTable('kb_documents').execute();
}
