import { sql, type Kysely } from 'kysely';
import { rebuild } from './v0004-hnsw-insert-speed.ts';

/**
 * Rebuilds the embedding models' HNSW indexes with `m = 20, ef_construction = 200`, the
 * parameters new models' indexes get (knowledge/embedding-models.ts): v0004's graph found 0.99 of
 * the exact nearest ten at 20k chunks but 0.83 at 250k, and no ef_search reached 0.95 there. The
 * rebuild takes about as long as building the index did, once (about four minutes for 250k
 * vectors of 384 dimensions on two cores).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await rebuild(db, sql`set (m = 20, ef_construction = 200)`);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await rebuild(db, sql`set (m = 16, ef_construction = 64)`);
}
