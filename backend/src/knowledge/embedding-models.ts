import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Executor, PostgresDatabase } from '../database/index.ts';
import { modelIdPattern, type Embedder } from '../providers/index.ts';

export interface EmbeddingModel {
  model: string;
  dimensions: number;
  state: 'building' | 'active' | 'retired';
}

/** The HNSW graph's links per node and its build-time candidate list (see `EmbeddingModels.createIndex`). */
export const hnswM = 20;
export const hnswEfConstruction = 200;

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

  /**
   * Creates a model's HNSW index unless it exists, with `m = 20, ef_construction = 200` or another
   * `graph` (to compare, in bench/). pgvector's default graph (`m = 16, ef_construction = 64`)
   * found 0.99 of the exact nearest ten at 20k chunks of real prose but only 0.83 at 250k chunks
   * recombined from its sentences, and no ef_search brought it to 0.95 (0.91 at 800): the graph
   * was the limit. At 250k this one finds 0.97 at ef_search 300, for inserts about 2.5 times as
   * costly (8.4 against 3.4 ms on PostgreSQL); `m = 32, ef_construction = 128` found 0.96 with
   * inserts of 12.7 ms and slower searches (bench/knowledge-large.ts). `model` must have passed
   * `modelIdPattern`.
   */
  static async createIndex(
    executor: Executor,
    model: string,
    dimensions: number,
    graph: { m: number; efConstruction: number } = { m: hnswM, efConstruction: hnswEfConstruction },
  ): Promise<void> {
    if (!modelIdPattern.test(model)) throw new Error(`Not an embedding model name: ${model}`);
    // The name is checked against a pattern without quotes; sql.lit keeps it a literal.
    await sql`create index if not exists ${sql.id(EmbeddingModels.indexName(model))} on kb_embeddings
      using hnsw ((embedding::vector(${sql.lit(Math.trunc(dimensions))})) vector_cosine_ops)
      with (m = ${sql.lit(Math.trunc(graph.m))}, ef_construction = ${sql.lit(Math.trunc(graph.efConstruction))}) where model = ${sql.lit(model)}`.execute(
      executor,
    );
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
      await EmbeddingModels.createIndex(tx, embedder.name, dimensions);
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
