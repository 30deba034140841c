import { sql, type Kysely } from 'kysely';

/**
 * The pgvector extension. Migrations in this folder run only where the extension can be
 * installed; the knowledge base's vector tables follow it here.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create extension if not exists vector`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop extension if exists vector`.execute(db);
}
