import { createHash, randomUUID } from 'node:crypto';
import { sql, type ExpressionBuilder, type Selectable } from 'kysely';
import { decodeCursor, encodeCursor, isUuid, type DatabaseSchema, type DocumentStatus, type Executor, type JsonValue, type KbDocumentsTable, type PostgresDatabase } from '../database/index.ts';
import { AppError, isAppError, type ReportedError } from '../errors.ts';
import type { EventBus } from '../events/index.ts';
import { createEmbedder, type Embedder, type EmbedderSettings } from '../providers/index.ts';
import { chunkLimits, type Chunk } from './chunker.ts';
import { DocumentWorkerPool, type DocumentReaderSettings } from './document-worker-pool.ts';
import { EmbeddingModels, vectorLiteral, type EmbeddingModel } from './embedding-models.ts';
import { FileStore } from './file-store.ts';

export interface KnowledgeSettings {
  embeddingModel: string;
  embedders: EmbedderSettings;
  storageDir: string;
  maxUploadBytes: number;
  chunkSize: number;
  chunkOverlap: number;
  readers: DocumentReaderSettings;
}

export interface NewDocument {
  bytes: Uint8Array;
  fileName?: string | undefined;
  title?: string | undefined;
  source?: string | undefined;
  tags?: string[] | undefined;
  metadata?: Record<string, JsonValue> | undefined;
  chunkSize?: number | undefined;
  overlap?: number | undefined;
}

export interface DocumentChanges {
  content?: string | undefined;
  title?: string | undefined;
  source?: string | null | undefined;
  tags?: string[] | undefined;
  metadata?: Record<string, JsonValue> | undefined;
  chunkSize?: number | undefined;
  overlap?: number | undefined;
}

export interface DocumentView {
  id: string;
  title: string;
  source: string | null;
  tags: string[];
  metadata: JsonValue;
  fileName: string | null;
  contentType: string;
  sizeBytes: number;
  checksum: string;
  status: DocumentStatus;
  error: ReportedError | null;
  version: number;
  chunkCount: number;
  chunkSize: number;
  chunkOverlap: number;
  embeddingModel: string | null;
  redactions: number;
  createdAt: string;
  updatedAt: string;
  processedAt: string | null;
}

export interface ListQuery {
  status?: DocumentStatus | undefined;
  tag?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface ReindexStatus {
  state: 'idle' | 'running';
  activeModel: string | null;
  configuredModel: string;
  targetModel: string | null;
  embedded: number;
  total: number;
}

type DocumentRow = Omit<Selectable<KbDocumentsTable>, 'text'>;

const documentColumns = [
  'id', 'user_id', 'title', 'source', 'tags', 'metadata', 'file_name', 'content_type', 'size_bytes', 'checksum',
  'storage_key', 'redactions', 'chunk_size', 'chunk_overlap', 'status', 'error_code', 'error_message', 'version',
  'active_version', 'chunk_count', 'embedding_model', 'lease_owner', 'lease_expires_at', 'created_at', 'updated_at', 'processed_at',
] as const;

/** Chunks embedded per call, and stored per transaction: small, so readers get the connection often. */
const embedBatchSize = 32;
const storeBatchSize = 8;
const leaseMs = 120_000;
/** When a lease taken or renewed now runs out. */
const leaseExpiry = () => sql<Date>`now() + ${`${leaseMs} milliseconds`}::interval`;
/** Documents waiting for an instance: pending, or processing under a lease that ran out. */
const unclaimed = (eb: ExpressionBuilder<DatabaseSchema, 'kb_documents'>) =>
  eb.or([eb('status', '=', 'pending'), eb.and([eb('status', '=', 'processing'), eb('lease_expires_at', '<', sql<Date>`now()`)])]);
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function toView(row: DocumentRow): DocumentView {
  return {
    id: row.id,
    title: row.title,
    source: row.source,
    tags: row.tags,
    metadata: row.metadata,
    fileName: row.file_name,
    contentType: row.content_type,
    sizeBytes: Number(row.size_bytes),
    checksum: row.checksum,
    status: row.status,
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    version: row.version,
    chunkCount: row.chunk_count,
    chunkSize: row.chunk_size,
    chunkOverlap: row.chunk_overlap,
    embeddingModel: row.embedding_model,
    redactions: row.redactions,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    processedAt: row.processed_at ? row.processed_at.toISOString() : null,
  };
}

/** The document was changed or deleted while it was being processed: this run's work is void. */
class Superseded extends Error {}

/**
 * The knowledge base: documents in, chunks and vectors stored, processing in the background.
 *
 * Upload parses the document at once (bad input answers 4xx and stores nothing), stores the
 * original and the row, and answers; chunking and embedding follow in the background under a
 * lease, in small transactions, and resume after a restart. Search lives in knowledge-search.ts.
 */
export class KnowledgeBase {
  readonly models: EmbeddingModels;
  private readonly files: FileStore;
  private readonly readers: DocumentWorkerPool;
  private readonly embedders = new Map<string, Promise<Embedder>>();
  private readonly instance = randomUUID();
  /** Documents waiting to be chunked and embedded, oldest first. */
  private readonly queue: Array<{ id: string; userId: string }> = [];
  /** Documents being processed, by their owner: one per user, as many users as there are readers. */
  private readonly processing = new Map<string, Promise<void>>();
  private reindexing: Promise<void> | undefined;
  private reindexProgress = { embedded: 0, total: 0 };
  /** Chunks written since the planner's statistics were last refreshed, and how many there were then. */
  private unanalysed = { chunks: 0, total: 0 };
  private stopped = false;
  private recovery: NodeJS.Timeout | undefined;

  constructor(
    private readonly database: PostgresDatabase,
    private readonly bus: EventBus,
    readonly settings: KnowledgeSettings,
    private readonly onError: (error: Error, context: string) => void,
  ) {
    this.models = new EmbeddingModels(database);
    this.files = new FileStore(settings.storageDir);
    this.readers = new DocumentWorkerPool(settings.readers);
  }

  /** The embedder for a model name, created once. */
  embedder(name: string): Promise<Embedder> {
    let embedder = this.embedders.get(name);
    if (!embedder) {
      embedder = createEmbedder(name, this.settings.embedders);
      embedder.catch(() => this.embedders.delete(name));
      this.embedders.set(name, embedder);
    }
    return embedder;
  }

  /**
   * Start-up: make sure a model answers searches, resume an interrupted reindex, pick up documents
   * left pending or processing, and sweep stored files no document points to.
   */
  async start(): Promise<void> {
    await this.ensureActiveModel();
    await this.analyze();
    if ((await this.models.current()).some((m) => m.state === 'building')) this.startReindex();
    await this.recover();
    // A document whose instance died mid-way is taken over once its lease expires.
    this.recovery = setInterval(() => void this.recover().catch((error: Error) => this.onError(error, 'recovering documents')), leaseMs / 2);
    this.recovery.unref();
    await this.files.sweep(async (keys) => {
      if (keys.length === 0) return new Set();
      const rows = await this.database.db.selectFrom('kb_documents').select('storage_key').where('storage_key', 'in', keys).execute();
      return new Set(rows.map((r) => r.storage_key));
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.recovery);
    await Promise.allSettled([...this.processing.values(), this.reindexing]);
    await this.readers.close();
    // Hand back what this instance was processing, so the next start (or another instance) resumes
    // it at once. If the database is gone, the lease runs out instead.
    await this.database
      .transaction(async (tx) => {
        const released = await tx
          .updateTable('kb_documents')
          .set({ status: 'pending', lease_owner: null, lease_expires_at: null })
          .where('lease_owner', '=', this.instance)
          .where('status', '=', 'processing')
          .returning(documentColumns)
          .execute();
        for (const row of released) await this.publishStatus(tx, row);
      })
      .catch((error: Error) => this.onError(error, 'handing back documents in flight'));
  }

  /** Queues documents left pending, and those processing under an expired lease. */
  private async recover(): Promise<void> {
    const unfinished = await this.database.db
      .selectFrom('kb_documents')
      .select(['id', 'user_id'])
      .where(unclaimed)
      .orderBy('created_at')
      .execute();
    for (const { id, user_id: userId } of unfinished) this.enqueue(id, userId);
  }

  /** Resolves when every queued document and any reindex are done (for tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.processing.size > 0 || this.reindexing) await Promise.allSettled([...this.processing.values(), this.reindexing]);
  }

  // ---- documents ---------------------------------------------------------------------------

  /** Stores a document for processing; the same bytes from the same user return the existing one. */
  async create(userId: string, input: NewDocument): Promise<{ document: DocumentView; created: boolean }> {
    const checksum = createHash('sha256').update(input.bytes).digest('hex');
    const existing = await this.findByChecksum(userId, checksum);
    if (existing) return { document: toView(existing), created: false };
    const options = this.chunkOptions(input.chunkSize, input.overlap);
    const extracted = await this.readers.extract(userId, input.bytes, input.fileName);
    const id = randomUUID();
    const storageKey = `${id}.v1`;
    await this.files.write(storageKey, input.bytes);
    try {
      const row = await this.database.transaction(async (tx) => {
        const inserted = await tx
          .insertInto('kb_documents')
          .values({
            id,
            user_id: userId,
            title: input.title?.trim() || input.fileName || firstLine(extracted.text),
            source: input.source ?? null,
            tags: input.tags ?? [],
            metadata: input.metadata ?? {},
            file_name: input.fileName ?? null,
            content_type: extracted.type,
            size_bytes: input.bytes.byteLength,
            checksum,
            storage_key: storageKey,
            text: extracted.text,
            redactions: extracted.redactions,
            chunk_size: options.chunkSize,
            chunk_overlap: options.overlap,
            status: 'pending',
            updated_at: new Date(),
          })
          .onConflict((oc) => oc.doNothing())
          .returning(documentColumns)
          .executeTakeFirst();
        if (inserted) await this.publishStatus(tx, inserted);
        return inserted;
      });
      if (!row) {
        // The same bytes arrived twice at once: the other upload won.
        await this.files.remove(storageKey);
        return { document: toView((await this.findByChecksum(userId, checksum))!), created: false };
      }
      this.enqueue(row.id, userId);
      return { document: toView(row), created: true };
    } catch (error) {
      await this.files.remove(storageKey);
      throw error;
    }
  }

  async get(userId: string, id: string): Promise<DocumentView> {
    return toView(await this.row(this.database.db, userId, id));
  }

  async list(userId: string, query: ListQuery): Promise<{ documents: DocumentView[]; nextCursor: string | null }> {
    let select = this.database.db.selectFrom('kb_documents').select(documentColumns).where('user_id', '=', userId);
    if (query.status) select = select.where('status', '=', query.status);
    if (query.tag) select = select.where(sql<boolean>`tags @> array[${query.tag}]::text[]`);
    // Pages by (creation time to the millisecond, id): the cursor carries what a JS Date can hold.
    const createdMs = sql<Date>`date_trunc('milliseconds', created_at)`;
    if (query.cursor) {
      const [at, id] = decodeCursor(query.cursor);
      select = select.where((eb) => eb.or([eb(createdMs, '<', at), eb.and([eb(createdMs, '=', at), eb('id', '<', id)])]));
    }
    const rows = await select.orderBy(createdMs, 'desc').orderBy('id', 'desc').limit(query.limit + 1).execute();
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return { documents: page.map(toView), nextCursor: rows.length > query.limit && last ? encodeCursor(last.created_at, last.id) : null };
  }

  /**
   * Changes a document. New content (or new chunk settings) makes a new version that is chunked
   * and embedded in the background; search keeps seeing the old version until the new one is
   * complete, then switches in one transaction.
   */
  async update(userId: string, id: string, changes: DocumentChanges): Promise<DocumentView> {
    const current = await this.row(this.database.db, userId, id);
    const options = this.chunkOptions(changes.chunkSize ?? current.chunk_size, changes.overlap ?? current.chunk_overlap);
    const bytes = changes.content !== undefined ? Buffer.from(changes.content, 'utf8') : undefined;
    const extracted = bytes ? await this.readers.extract(userId, bytes, current.file_name ?? undefined) : undefined;
    const reprocess = extracted !== undefined || options.chunkSize !== current.chunk_size || options.overlap !== current.chunk_overlap;
    const version = current.version + 1;
    const storageKey = bytes ? `${id}.v${version}` : current.storage_key;
    if (bytes) await this.files.write(storageKey, bytes);
    let row: DocumentRow;
    try {
      row = await this.database.transaction(async (tx) => {
        const updated = await tx
          .updateTable('kb_documents')
          .set({
            ...(changes.title !== undefined ? { title: changes.title } : {}),
            ...(changes.source !== undefined ? { source: changes.source } : {}),
            ...(changes.tags !== undefined ? { tags: changes.tags } : {}),
            ...(changes.metadata !== undefined ? { metadata: changes.metadata } : {}),
            ...(bytes && extracted
              ? {
                  checksum: createHash('sha256').update(bytes).digest('hex'),
                  size_bytes: bytes.byteLength,
                  content_type: extracted.type,
                  text: extracted.text,
                  redactions: extracted.redactions,
                  storage_key: storageKey,
                }
              : {}),
            ...(reprocess
              ? { version, status: 'pending' as const, chunk_size: options.chunkSize, chunk_overlap: options.overlap, error_code: null, error_message: null, lease_owner: null, lease_expires_at: null }
              : {}),
            updated_at: new Date(),
          })
          .where('id', '=', id)
          .where('user_id', '=', userId)
          .where('version', '=', current.version)
          .returning(documentColumns)
          .executeTakeFirst();
        if (!updated) throw new AppError('CONFLICT', 'The document changed while this update was made; read it again and retry.');
        if (reprocess) await this.publishStatus(tx, updated);
        return updated;
      });
    } catch (error) {
      if (bytes) await this.files.remove(storageKey);
      if ((error as { code?: string }).code === '23505') throw new AppError('CONFLICT', 'You already have a document with this content.');
      throw error;
    }
    if (bytes && current.storage_key !== storageKey) await this.files.remove(current.storage_key);
    if (reprocess) this.enqueue(id, userId);
    return toView(row);
  }

  /** Deletes a document with its chunks, vectors and stored original. */
  async delete(userId: string, id: string): Promise<void> {
    const deleted = await this.database.db.deleteFrom('kb_documents').where('id', '=', id).where('user_id', '=', userId).returning('storage_key').executeTakeFirst();
    if (!deleted) throw notFound();
    await this.files.remove(deleted.storage_key);
  }

  // ---- processing --------------------------------------------------------------------------

  private enqueue(id: string, userId: string): void {
    if (!this.queue.some((queued) => queued.id === id)) this.queue.push({ id, userId });
    this.startProcessing();
  }

  /**
   * Starts the oldest queued documents whose owners have none in progress, as many at once as
   * there are readers: one user's long document (or a hundred of them) holds back only that user's.
   */
  private startProcessing(): void {
    while (!this.stopped && this.processing.size < this.settings.readers.workers) {
      const at = this.queue.findIndex((queued) => !this.processing.has(queued.userId));
      if (at < 0) return;
      const [{ id, userId }] = this.queue.splice(at, 1) as [{ id: string; userId: string }];
      const run = this.process(id)
        .catch((error: Error) => this.onError(error, `processing document ${id}`))
        .finally(() => {
          this.processing.delete(userId);
          this.startProcessing();
        });
      this.processing.set(userId, run);
    }
  }

  /** Claims a document (pending, or processing under an expired lease) for this instance. */
  private claim(id: string) {
    return this.database.transaction(async (tx) => {
      const row = await tx
        .updateTable('kb_documents')
        .set({ status: 'processing', lease_owner: this.instance, lease_expires_at: leaseExpiry(), updated_at: new Date() })
        .where('id', '=', id)
        .where(unclaimed)
        .returning([...documentColumns, 'text'])
        .executeTakeFirst();
      if (row) await this.publishStatus(tx, row);
      return row;
    });
  }

  private async process(id: string): Promise<void> {
    const claimed = await this.claim(id);
    if (!claimed) return;
    const { version, user_id: userId } = claimed;
    try {
      const chunks = await this.readers.chunk(userId, claimed.text, { chunkSize: claimed.chunk_size, overlap: claimed.chunk_overlap });
      await this.ensureActiveModel();
      const models = await this.models.current();
      // A crashed earlier run may have left part of this version behind.
      await this.database.db.deleteFrom('kb_chunks').where('document_id', '=', id).where('version', '=', version).execute();
      for (let at = 0; at < chunks.length; at += embedBatchSize) {
        const batch = chunks.slice(at, at + embedBatchSize);
        const vectors = await Promise.all(models.map(async (m) => (await this.embedder(m.model)).embed(batch.map((c) => c.content))));
        for (let from = 0; from < batch.length; from += storeBatchSize) {
          if (this.stopped) throw new Superseded();
          const to = from + storeBatchSize;
          await this.storeBatch(id, userId, version, batch.slice(from, to), models, vectors.map((v) => v.slice(from, to)));
          await yieldToEventLoop();
        }
      }
      const active = models.find((m) => m.state === 'active');
      await this.database.transaction(async (tx) => {
        const done = await tx
          .updateTable('kb_documents')
          .set({ status: 'completed', active_version: version, chunk_count: chunks.length, embedding_model: active?.model ?? null, processed_at: new Date(), updated_at: new Date(), lease_owner: null, lease_expires_at: null })
          .where('id', '=', id)
          .where('version', '=', version)
          .where('lease_owner', '=', this.instance)
          .returning(documentColumns)
          .executeTakeFirst();
        if (!done) throw new Superseded();
        await tx.deleteFrom('kb_chunks').where('document_id', '=', id).where('version', '!=', version).execute();
        await this.publishStatus(tx, done);
      });
      await this.noteWrites(chunks.length);
    } catch (error) {
      if (error instanceof Superseded) return;
      await this.fail(id, version, error);
    }
  }

  /** One batch of chunks and their vectors, in one short transaction that renews the lease. */
  private async storeBatch(id: string, userId: string, version: number, batch: Chunk[], models: EmbeddingModel[], vectors: number[][][]): Promise<void> {
    await this.database.transaction(async (tx) => {
      const renewed = await tx
        .updateTable('kb_documents')
        .set({ lease_expires_at: leaseExpiry() })
        .where('id', '=', id)
        .where('version', '=', version)
        .where('lease_owner', '=', this.instance)
        .executeTakeFirst();
      if (Number(renewed.numUpdatedRows) === 0) throw new Superseded();
      const rows = await tx
        .insertInto('kb_chunks')
        .values(batch.map((c) => ({ document_id: id, user_id: userId, version, chunk_index: c.index, content: c.content, token_count: c.tokenCount, char_start: c.start, char_end: c.end })))
        .returning('id')
        .execute();
      await tx
        .insertInto('kb_embeddings')
        .values(models.flatMap((m, mi) => rows.map((r, ci) => ({ chunk_id: r.id, model: m.model, user_id: userId, embedding: vectorLiteral(vectors[mi]![ci]!) }))))
        .execute();
    });
  }

  private async fail(id: string, version: number, error: unknown): Promise<void> {
    const appError = isAppError(error) ? error : undefined;
    if (!appError) this.onError(error as Error, `processing document ${id}`);
    await this.database.transaction(async (tx) => {
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
        .returning(documentColumns)
        .executeTakeFirst();
      if (!failed) return;
      await tx.deleteFrom('kb_chunks').where('document_id', '=', id).where('version', '=', version).execute();
      await this.publishStatus(tx, failed);
    });
  }

  // ---- reindex -----------------------------------------------------------------------------

  /**
   * Re-embeds every chunk with the configured model in the background. Searches keep using the
   * active model until every chunk has a vector of the new one; then the switch is one transaction.
   */
  async reindex(): Promise<ReindexStatus> {
    const active = await this.models.active();
    if (active?.model !== this.settings.embeddingModel) {
      await this.models.register(await this.embedder(this.settings.embeddingModel), 'building');
      this.startReindex();
    }
    return this.reindexStatus();
  }

  async reindexStatus(): Promise<ReindexStatus> {
    const models = await this.models.current();
    const target = models.find((m) => m.state === 'building');
    return {
      state: this.reindexing ? 'running' : 'idle',
      activeModel: models.find((m) => m.state === 'active')?.model ?? null,
      configuredModel: this.settings.embeddingModel,
      targetModel: target?.model ?? null,
      ...this.reindexProgress,
    };
  }

  private startReindex(): void {
    this.reindexing ??= this.runReindex()
      .catch((error: Error) => this.onError(error, 'reindexing the knowledge base'))
      .finally(() => (this.reindexing = undefined));
  }

  private async runReindex(): Promise<void> {
    const target = (await this.models.current()).find((m) => m.state === 'building');
    if (!target) return;
    const embedder = await this.embedder(target.model);
    const missing = (executor: Executor = this.database.db) =>
      executor
        .selectFrom('kb_chunks as c')
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('kb_embeddings as e').select(sql`1`.as('one')).whereRef('e.chunk_id', '=', 'c.id').where('e.model', '=', target.model))));
    const { count } = await missing().select((eb) => eb.fn.countAll<string>().as('count')).executeTakeFirstOrThrow();
    this.reindexProgress = { embedded: 0, total: Number(count) };
    while (!this.stopped) {
      const batch = await missing().select(['c.id', 'c.user_id', 'c.content']).limit(embedBatchSize).execute();
      if (batch.length === 0) {
        const previous = await this.models.active();
        await this.database.transaction(async (tx) => {
          const { count: left } = await missing(tx).select((eb) => eb.fn.countAll<string>().as('count')).executeTakeFirstOrThrow();
          if (Number(left) > 0) return;
          await this.models.activate(tx, target.model);
          await tx.updateTable('kb_documents').set({ embedding_model: target.model }).where('status', '=', 'completed').execute();
        });
        if ((await this.models.active())?.model !== target.model) continue;
        if (previous) {
          await this.database.db.deleteFrom('kb_embeddings').where('model', '=', previous.model).execute();
          await sql`drop index if exists ${sql.id(EmbeddingModels.indexName(previous.model))}`.execute(this.database.db);
        }
        await this.analyze();
        return;
      }
      const vectors = await embedder.embed(batch.map((c) => c.content));
      await this.database.db
        .insertInto('kb_embeddings')
        .values(batch.map((c, i) => ({ chunk_id: c.id, model: target.model, user_id: c.user_id, embedding: vectorLiteral(vectors[i]!) })))
        .onConflict((oc) => oc.doNothing())
        .execute();
      this.reindexProgress.embedded += batch.length;
      await yieldToEventLoop();
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  /**
   * Refreshes the planner's statistics once the chunks grew by a tenth (at least 500). The
   * embedded database has no autovacuum, and without statistics the planner may pass over the
   * HNSW index for an exact scan that is a hundred times slower at 10,000 chunks.
   */
  private async noteWrites(chunks: number): Promise<void> {
    this.unanalysed.chunks += chunks;
    if (this.unanalysed.chunks >= Math.max(500, this.unanalysed.total / 10)) await this.analyze();
  }

  private async analyze(): Promise<void> {
    await sql`analyze kb_documents, kb_chunks, kb_embeddings`.execute(this.database.db);
    const { count } = await this.database.db.selectFrom('kb_chunks').select((eb) => eb.fn.countAll<string>().as('count')).executeTakeFirstOrThrow();
    this.unanalysed = { chunks: 0, total: Number(count) };
  }

  /** On a fresh knowledge base, the configured model becomes the one searches use. */
  private async ensureActiveModel(): Promise<void> {
    if (!(await this.models.active())) await this.models.register(await this.embedder(this.settings.embeddingModel), 'active');
  }

  private chunkOptions(chunkSize = this.settings.chunkSize, overlap = this.settings.chunkOverlap): { chunkSize: number; overlap: number } {
    if (!Number.isInteger(chunkSize) || chunkSize < chunkLimits.minSize || chunkSize > chunkLimits.maxSize) {
      throw new AppError('VALIDATION_FAILED', `chunkSize must be a whole number of tokens from ${chunkLimits.minSize} to ${chunkLimits.maxSize}.`);
    }
    if (!Number.isInteger(overlap) || overlap < 0 || overlap > chunkSize / 2) {
      throw new AppError('VALIDATION_FAILED', 'overlap must be a whole number of tokens from 0 to half the chunk size.');
    }
    return { chunkSize, overlap };
  }

  private findByChecksum(userId: string, checksum: string): Promise<DocumentRow | undefined> {
    return this.database.db.selectFrom('kb_documents').select(documentColumns).where('user_id', '=', userId).where('checksum', '=', checksum).executeTakeFirst();
  }

  private async row(executor: Executor, userId: string, id: string): Promise<DocumentRow> {
    if (!isUuid(id)) throw notFound();
    const row = await executor.selectFrom('kb_documents').select(documentColumns).where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    if (!row) throw notFound();
    return row;
  }

  private async publishStatus(tx: Executor, row: DocumentRow): Promise<void> {
    await this.bus.publish(tx, {
      userId: row.user_id,
      topic: 'knowledge',
      event: {
        type: 'kb.document.status',
        data: { documentId: row.id, status: row.status, ...(row.error_code ? { error: { code: row.error_code, message: row.error_message ?? '' } } : {}) },
      },
    });
  }
}

const notFound = () => new AppError('NOT_FOUND', 'No such document.');

function firstLine(text: string): string {
  const line = text.trim().split('\n', 1)[0]!.trim();
  return line.length > 120 ? `${line.slice(0, 117)}…` : line;
}
