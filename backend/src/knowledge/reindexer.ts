import { sql } from 'kysely';
import type { Executor, PostgresDatabase } from '../database/index.ts';
import type { Embedder } from '../providers/index.ts';
import { embedBatchSize, yieldToEventLoop } from './document-processor.ts';
import { EmbeddingModels, vectorLiteral } from './embedding-models.ts';
import { StatementBudget, writeStatementLimits } from './statement-budget.ts';
import type { PlannerStatistics } from './planner-statistics.ts';

export interface ReindexStatus {
  state: 'idle' | 'running';
  activeModel: string | null;
  configuredModel: string;
  targetModel: string | null;
  embedded: number;
  total: number;
}

export interface ReindexerOptions {
  database: PostgresDatabase;
  models: EmbeddingModels;
  statistics: PlannerStatistics;
  /** The model the settings name, which a reindex moves searches to. */
  configuredModel: string;
  /** The embedder for a model name, created once. */
  embedder: (name: string) => Promise<Embedder>;
  onError: (error: Error, context: string) => void;
}

/**
 * Moves the knowledge base to the configured embedding model in the background. Searches keep
 * using the active model until every chunk has a vector of the new one; then the switch is one
 * transaction, and the old model's vectors and index are dropped.
 */
export class Reindexer {
  private running: Promise<void> | undefined;
  private progress = { embedded: 0, total: 0 };
  private stopped = false;
  private readonly budget = new StatementBudget(writeStatementLimits);

  constructor(private readonly options: ReindexerOptions) {}

  /** Starts a reindex when the configured model is not the active one; answers where it stands. */
  async reindex(): Promise<ReindexStatus> {
    const { models, configuredModel } = this.options;
    const active = await models.active();
    if (active?.model !== configuredModel) {
      await models.register(await this.options.embedder(configuredModel), 'building');
      this.start();
    }
    return this.status();
  }

  async status(): Promise<ReindexStatus> {
    const models = await this.options.models.current();
    const target = models.find((m) => m.state === 'building');
    return {
      state: this.running ? 'running' : 'idle',
      activeModel: models.find((m) => m.state === 'active')?.model ?? null,
      configuredModel: this.options.configuredModel,
      targetModel: target?.model ?? null,
      ...this.progress,
    };
  }

  /** Resumes a reindex a restart interrupted. */
  async resume(): Promise<void> {
    if ((await this.options.models.current()).some((m) => m.state === 'building')) this.start();
  }

  /** Stops at the next batch; what is embedded stays, and the next start resumes from there. */
  stop(): void {
    this.stopped = true;
  }

  /** The reindex in flight now, if any. */
  inFlight(): Promise<void> | undefined {
    return this.running;
  }

  private start(): void {
    this.running ??= this.run()
      .catch((error: Error) => this.options.onError(error, 'reindexing the knowledge base'))
      .finally(() => (this.running = undefined));
  }

  private async run(): Promise<void> {
    const { database, models } = this.options;
    const target = (await models.current()).find((m) => m.state === 'building');
    if (!target) return;
    const embedder = await this.options.embedder(target.model);
    const missing = (executor: Executor = database.db) =>
      executor.selectFrom('kb_chunks as c').where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('kb_embeddings as e')
              .select(sql`1`.as('one'))
              .whereRef('e.chunk_id', '=', 'c.id')
              .where('e.model', '=', target.model),
          ),
        ),
      );
    const { count } = await missing()
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .executeTakeFirstOrThrow();
    this.progress = { embedded: 0, total: Number(count) };
    while (!this.stopped) {
      const batch = await missing().select(['c.id', 'c.user_id', 'c.content']).limit(embedBatchSize).execute();
      if (batch.length === 0) {
        const previous = await models.active();
        await database.transaction(async (tx) => {
          const { count: left } = await missing(tx)
            .select((eb) => eb.fn.countAll<string>().as('count'))
            .executeTakeFirstOrThrow();
          if (Number(left) > 0) return;
          await models.activate(tx, target.model);
          await tx.updateTable('kb_documents').set({ embedding_model: target.model }).where('status', '=', 'completed').execute();
        });
        if ((await models.active())?.model !== target.model) continue;
        if (previous) {
          await database.db.deleteFrom('kb_embeddings').where('model', '=', previous.model).execute();
          await sql`drop index if exists ${sql.id(EmbeddingModels.indexName(previous.model))}`.execute(database.db);
        }
        await this.options.statistics.analyze();
        return;
      }
      const vectors = await embedder.embed(batch.map((c) => c.content));
      const rows = batch.map((c, i) => ({
        chunk_id: c.id,
        model: target.model,
        user_id: c.user_id,
        embedding: vectorLiteral(vectors[i]!),
      }));
      // In statements sized by their cost: each vector goes into the target model's HNSW index.
      for (let at = 0; at < rows.length;) {
        const slice = rows.slice(at, at + this.budget.rows());
        await this.budget.measure(slice.length, () => insertEmbeddings(database, slice));
        at += slice.length;
        await yieldToEventLoop();
      }
      this.progress.embedded += batch.length;
    }
  }
}

type EmbeddingRow = { chunk_id: string; model: string; user_id: string; embedding: string };

/**
 * Stores a slice of the reindex's vectors. A chunk deleted while its batch was being embedded (its
 * document deleted or replaced) fails the statement on its foreign key: the vectors of the chunks
 * that remain are stored again without it, so a user's delete never stops everyone's reindex.
 */
async function insertEmbeddings(database: PostgresDatabase, rows: EmbeddingRow[]): Promise<void> {
  const insert = (values: EmbeddingRow[]) =>
    database.db
      .insertInto('kb_embeddings')
      .values(values)
      .onConflict((oc) => oc.doNothing())
      .execute();
  try {
    await insert(rows);
  } catch (error) {
    if ((error as { code?: string }).code !== '23503') throw error;
    const ids = rows.map((row) => row.chunk_id);
    const remaining = new Set((await database.db.selectFrom('kb_chunks').select('id').where('id', 'in', ids).execute()).map((c) => c.id));
    const kept = rows.filter((row) => remaining.has(row.chunk_id));
    if (kept.length > 0) await insert(kept);
  }
}
