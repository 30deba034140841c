import { randomUUID } from 'node:crypto';
import { sql, type ExpressionBuilder } from 'kysely';
import type { DatabaseSchema, PostgresDatabase } from '../database/index.ts';
import { isAppError } from '../errors.ts';
import type { EventBus } from '../events/index.ts';
import type { Embedder } from '../providers/index.ts';
import { ChunkWriter, type LeasedDocument } from './chunk-writer.ts';
import type { DocumentWorkerPool } from './document-worker-pool.ts';
import { documentColumns, publishDocumentStatus } from './document-view.ts';
import type { EmbeddingModels } from './embedding-models.ts';
import type { PlannerStatistics } from './planner-statistics.ts';

/** Chunks embedded per call. */
export const embedBatchSize = 32;
const leaseMs = 120_000;
/** When a lease taken or renewed now runs out. */
const leaseExpiry = () => sql<Date>`now() + ${`${leaseMs} milliseconds`}::interval`;
/** Documents waiting for an instance: pending, or processing under a lease that ran out. */
const unclaimed = (eb: ExpressionBuilder<DatabaseSchema, 'kb_documents'>) =>
  eb.or([eb('status', '=', 'pending'), eb.and([eb('status', '=', 'processing'), eb('lease_expires_at', '<', sql<Date>`now()`)])]);
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The document was changed or deleted while it was being processed: this run's work is void. */
class Superseded extends Error {}

/** One claimed version of a document, as processing carries it from batch to batch. */
type Claim = LeasedDocument;

export interface DocumentProcessorOptions {
  database: PostgresDatabase;
  bus: EventBus;
  readers: DocumentWorkerPool;
  /** Documents processed at once: as many as there are readers. */
  concurrency: number;
  models: EmbeddingModels;
  statistics: PlannerStatistics;
  /** The embedder for a model name, created once. */
  embedder: (name: string) => Promise<Embedder>;
  /** On a fresh knowledge base, makes the configured model the one searches use. */
  ensureActiveModel: () => Promise<void>;
  onError: (error: Error, context: string) => void;
}

/**
 * The background loop that chunks, embeds and stores documents.
 *
 * A document is claimed under a lease held by this instance, stored in short statements that
 * renew it (chunk-writer.ts), and finished (or failed) in one that publishes its status. A document whose instance
 * died mid-way is taken over once its lease expires; one handed back at stop resumes at once.
 */
export class DocumentProcessor {
  private readonly instance = randomUUID();
  /** Documents waiting to be chunked and embedded, oldest first. */
  private readonly queue: Array<{ id: string; userId: string }> = [];
  /** Documents being processed, by their owner: one per user, as many users as there are readers. */
  private readonly processing = new Map<string, Promise<void>>();
  private stopped = false;
  private recovery: NodeJS.Timeout | undefined;
  /** Stores every document's chunks, several documents' to a statement when several are in flight. */
  private readonly writer: ChunkWriter;

  constructor(private readonly options: DocumentProcessorOptions) {
    this.writer = new ChunkWriter({ database: options.database, leaseOwner: this.instance, leaseMs });
  }

  /** Picks up documents left pending or processing, now and every half lease from now on. */
  async start(): Promise<void> {
    await this.recover();
    // A document whose instance died mid-way is taken over once its lease expires.
    this.recovery = setInterval(
      () => void this.recover().catch((error: Error) => this.options.onError(error, 'recovering documents')),
      leaseMs / 2,
    );
    this.recovery.unref();
  }

  /** Takes no more documents and stops those in flight at their next batch. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.recovery);
    this.writer.stop();
  }

  /** The runs in flight now. */
  inFlight(): Array<Promise<void>> {
    return [...this.processing.values()];
  }

  /**
   * Hands back what this instance was processing, so the next start (or another instance) resumes
   * it at once. If the database is gone, the lease runs out instead.
   */
  async handBack(): Promise<void> {
    await this.options.database
      .transaction(async (tx) => {
        const released = await tx
          .updateTable('kb_documents')
          .set({ status: 'pending', lease_owner: null, lease_expires_at: null })
          .where('lease_owner', '=', this.instance)
          .where('status', '=', 'processing')
          .returning(documentColumns)
          .execute();
        for (const row of released) await publishDocumentStatus(this.options.bus, tx, row);
      })
      .catch((error: Error) => this.options.onError(error, 'handing back documents in flight'));
  }

  enqueue(id: string, userId: string): void {
    if (!this.queue.some((queued) => queued.id === id)) this.queue.push({ id, userId });
    this.startProcessing();
  }

  /** Queues documents left pending, and those processing under an expired lease. */
  private async recover(): Promise<void> {
    const unfinished = await this.options.database.db
      .selectFrom('kb_documents')
      .select(['id', 'user_id'])
      .where(unclaimed)
      .orderBy('created_at')
      .execute();
    for (const { id, user_id: userId } of unfinished) this.enqueue(id, userId);
  }

  /**
   * Starts the oldest queued documents whose owners have none in progress, as many at once as
   * there are readers: one user's long document (or a hundred of them) holds back only that user's.
   */
  private startProcessing(): void {
    while (!this.stopped && this.processing.size < this.options.concurrency) {
      const at = this.queue.findIndex((queued) => !this.processing.has(queued.userId));
      if (at < 0) return;
      const [{ id, userId }] = this.queue.splice(at, 1) as [{ id: string; userId: string }];
      const run = this.process(id)
        .catch((error: Error) => this.options.onError(error, `processing document ${id}`))
        .finally(() => {
          this.processing.delete(userId);
          this.startProcessing();
        });
      this.processing.set(userId, run);
    }
  }

  /** Claims a document (pending, or processing under an expired lease) for this instance. */
  private claim(id: string) {
    return this.options.database.transaction(async (tx) => {
      const row = await tx
        .updateTable('kb_documents')
        .set({ status: 'processing', lease_owner: this.instance, lease_expires_at: leaseExpiry(), updated_at: new Date() })
        .where('id', '=', id)
        .where(unclaimed)
        .returning([...documentColumns, 'text'])
        .executeTakeFirst();
      if (row) await publishDocumentStatus(this.options.bus, tx, row);
      return row;
    });
  }

  private async process(id: string): Promise<void> {
    const { database, readers, models: registry } = this.options;
    const claimed = await this.claim(id);
    if (!claimed) return;
    const claim: Claim = { id, userId: claimed.user_id, version: claimed.version };
    try {
      const chunks = await readers.chunk(claim.userId, claimed.text, { chunkSize: claimed.chunk_size, overlap: claimed.chunk_overlap });
      await this.options.ensureActiveModel();
      const models = await registry.current();
      if (!(await this.clearLeftovers(claim))) throw new Superseded();
      // The next batch is embedded while the one before is being stored.
      let storing: Promise<boolean> = Promise.resolve(true);
      for (let at = 0; at < chunks.length; at += embedBatchSize) {
        const batch = chunks.slice(at, at + embedBatchSize);
        const vectors = await Promise.all(
          models.map(async (m) => (await this.options.embedder(m.model)).embed(batch.map((c) => c.content))),
        );
        if (!(await storing) || this.stopped) throw new Superseded();
        storing = this.writer.write({ document: claim, chunks: batch, models, vectors });
        storing.catch(() => undefined);
      }
      if (!(await storing)) throw new Superseded();
      const active = models.find((m) => m.state === 'active');
      await database.transaction(async (tx) => {
        const done = await tx
          .updateTable('kb_documents')
          .set({
            status: 'completed',
            active_version: claim.version,
            chunk_count: chunks.length,
            embedding_model: active?.model ?? null,
            processed_at: new Date(),
            updated_at: new Date(),
            lease_owner: null,
            lease_expires_at: null,
          })
          .where('id', '=', id)
          .where('version', '=', claim.version)
          .where('lease_owner', '=', this.instance)
          .returning(documentColumns)
          .executeTakeFirst();
        if (!done) throw new Superseded();
        await tx.deleteFrom('kb_chunks').where('document_id', '=', id).where('version', '!=', claim.version).execute();
        await publishDocumentStatus(this.options.bus, tx, done);
      });
      await this.options.statistics.noteWrites(chunks.length);
    } catch (error) {
      if (error instanceof Superseded) return;
      await this.fail(claim, error);
    }
  }

  /**
   * Deletes what a crashed earlier run may have left of this version, if this instance still holds
   * the lease (renewing it), in one statement: once another instance took the document over, the
   * rows of this version are its own. False when the lease is lost.
   */
  private async clearLeftovers({ id, version }: Claim): Promise<boolean> {
    const { rows } = await sql<{ id: string }>`
      with held as (
        update kb_documents set lease_expires_at = ${leaseExpiry()}
         where id = ${id} and version = ${version} and lease_owner = ${this.instance}
        returning id
      ), cleared as (
        delete from kb_chunks where document_id in (select id from held) and version = ${version}
      )
      select id from held`.execute(this.options.database.db);
    return rows.length > 0;
  }

  private async fail(claim: Claim, error: unknown): Promise<void> {
    const { id, version } = claim;
    const appError = isAppError(error) ? error : undefined;
    if (!appError) this.options.onError(error as Error, `processing document ${id}`);
    await this.options.database.transaction(async (tx) => {
      const failed = await tx
        .updateTable('kb_documents')
        .set({
          status: 'failed',
          error_code: appError?.code ?? 'INTERNAL',
          error_message: appError?.message ?? 'Processing failed on our side; the server log has the details.',
          lease_owner: null,
          lease_expires_at: null,
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .where('version', '=', version)
        // Once another instance took the document over, its outcome is that instance's to write.
        .where('lease_owner', '=', this.instance)
        .returning(documentColumns)
        .executeTakeFirst();
      if (!failed) return;
      await tx.deleteFrom('kb_chunks').where('document_id', '=', id).where('version', '=', version).execute();
      await publishDocumentStatus(this.options.bus, tx, failed);
    });
  }
}
