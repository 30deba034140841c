import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Executor, PostgresDatabase } from '../database/index.ts';
import { modelIdPattern, type Embedder } from '../providers/index.ts';

export interface EmbeddingModel {
  model: string;
  dimensions: number;
  state: 'building' | 'active' | 'retired';
}

/** A pgvector literal: `[0.1,0.2,…]`. */
export function vectorLiteral(vector: number[]): string {
  return `[${vector.join(',')}]`;
}

/**
 * Which embedding models the knowledge base holds vectors of, and which one answers searches.
 * Registering a model creates its partial HNSW index (cosine), so each model's nearest-neighbour
 * scan reads only its own vectors at its own dimension.
 */
export class EmbeddingModels {
  private cached: { at: number; model: EmbeddingModel | undefined } | undefined;

  constructor(private readonly database: PostgresDatabase) {}

  static indexName(model: string): string {
    return `kb_embeddings_hnsw_${createHash('sha256').update(model).digest('hex').slice(0, 16)}`;
  }

  /** Registers `embedder` (and its index) in `state` unless it is known already; returns its row. */
  async register(embedder: Embedder, state: 'building' | 'active'): Promise<EmbeddingModel> {
    if (!modelIdPattern.test(embedder.name)) throw new Error(`Not an embedding model name: ${embedder.name}`);
    const dimensions = Math.trunc(embedder.dimensions);
    return this.database.transaction(async (tx) => {
      await sql`select pg_advisory_xact_lock(hashtext('agentry.kb_embedding_models'))`.execute(tx);
      const existing = await tx
        .selectFrom('kb_embedding_models')
        .select(['model', 'dimensions', 'state'])
        .where('model', '=', embedder.name)
        .executeTakeFirst();
      if (existing && existing.state !== 'retired') return existing;
      if (existing) await tx.updateTable('kb_embedding_models').set({ state }).where('model', '=', embedder.name).execute();
      else await tx.insertInto('kb_embedding_models').values({ model: embedder.name, dimensions, state }).execute();
      // The name is checked above against a pattern without quotes; sql.lit keeps it a literal.
      await sql`create index if not exists ${sql.id(EmbeddingModels.indexName(embedder.name))} on kb_embeddings
        using hnsw ((embedding::vector(${sql.lit(dimensions)})) vector_cosine_ops) where model = ${sql.lit(embedder.name)}`.execute(tx);
      if (state === 'active')
        await tx.updateTable('kb_embedding_models').set({ activated_at: new Date() }).where('model', '=', embedder.name).execute();
      this.cached = undefined;
      return { model: embedder.name, dimensions, state };
    });
  }

  /** The model searches use (read at most once a second; a switch is seen within that). */
  async active(executor: Executor = this.database.db): Promise<EmbeddingModel | undefined> {
    if (this.cached && Date.now() - this.cached.at < 1000) return this.cached.model;
    const model = await executor
      .selectFrom('kb_embedding_models')
      .select(['model', 'dimensions', 'state'])
      .where('state', '=', 'active')
      .executeTakeFirst();
    this.cached = { at: Date.now(), model };
    return model;
  }

  /** Models that new chunks are embedded with: the active one and one being built, if any. */
  async current(): Promise<EmbeddingModel[]> {
    return this.database.db
      .selectFrom('kb_embedding_models')
      .select(['model', 'dimensions', 'state'])
      .where('state', '!=', 'retired')
      .orderBy('state')
      .execute();
  }

  /** Makes `model` the one searches use, in one transaction, and retires the one before. */
  async activate(tx: Executor, model: string): Promise<void> {
    await tx.updateTable('kb_embedding_models').set({ state: 'retired' }).where('state', '=', 'active').execute();
    await tx.updateTable('kb_embedding_models').set({ state: 'active', activated_at: new Date() }).where('model', '=', model).execute();
    this.cached = undefined;
  }
}
