import type { PostgresDatabase } from '../database/index.ts';
import type { EventBus } from '../events/index.ts';
import { createEmbedder, type Embedder, type EmbedderSettings } from '../providers/index.ts';
import { DocumentProcessor } from './document-processor.ts';
import { DocumentStore, type DocumentChanges, type DocumentText, type ListQuery, type NewDocument } from './document-store.ts';
import type { DocumentView } from './document-view.ts';
import { DocumentWorkerPool, type DocumentReaderSettings } from './document-worker-pool.ts';
import { EmbeddingModels } from './embedding-models.ts';
import { FileStore } from './file-store.ts';
import { PlannerStatistics } from './planner-statistics.ts';
import { Reindexer, type ReindexStatus } from './reindexer.ts';

export interface KnowledgeSettings {
  embeddingModel: string;
  embedders: EmbedderSettings;
  storageDir: string;
  maxUploadBytes: number;
  chunkSize: number;
  chunkOverlap: number;
  readers: DocumentReaderSettings;
}

export interface KnowledgeBaseOptions {
  database: PostgresDatabase;
  bus: EventBus;
  settings: KnowledgeSettings;
  /** Where errors no caller sees (background processing, reindex, hand-back) are reported. */
  onError: (error: Error, context: string) => void;
}

/**
 * The knowledge base: documents in, chunks and vectors stored, processing in the background.
 *
 * One front for the documents (document-store.ts), their background processing
 * (document-processor.ts) and the reindex (reindexer.ts), which share the readers, the stored
 * files, the embedding models and their embedders. Search lives in knowledge-search.ts.
 */
export class KnowledgeBase {
  readonly models: EmbeddingModels;
  readonly settings: KnowledgeSettings;
  private readonly database: PostgresDatabase;
  private readonly readers: DocumentWorkerPool;
  private readonly embedders = new Map<string, Promise<Embedder>>();
  private readonly statistics: PlannerStatistics;
  private readonly documents: DocumentStore;
  private readonly processor: DocumentProcessor;
  private readonly reindexer: Reindexer;

  constructor({ database, bus, settings, onError }: KnowledgeBaseOptions) {
    this.database = database;
    this.settings = settings;
    this.models = new EmbeddingModels(database);
    this.readers = new DocumentWorkerPool(settings.readers);
    this.statistics = new PlannerStatistics(database);
    const embedder = (name: string) => this.embedder(name);
    this.processor = new DocumentProcessor({
      database,
      bus,
      readers: this.readers,
      concurrency: settings.readers.workers,
      models: this.models,
      statistics: this.statistics,
      embedder,
      ensureActiveModel: () => this.ensureActiveModel(),
      onError,
    });
    this.documents = new DocumentStore({
      database,
      bus,
      files: new FileStore(settings.storageDir),
      readers: this.readers,
      defaults: { chunkSize: settings.chunkSize, chunkOverlap: settings.chunkOverlap },
      enqueue: (id, userId) => this.processor.enqueue(id, userId),
    });
    this.reindexer = new Reindexer({
      database,
      models: this.models,
      statistics: this.statistics,
      configuredModel: settings.embeddingModel,
      embedder,
      onError,
    });
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
    await this.statistics.analyze();
    await this.reindexer.resume();
    await this.processor.start();
    await this.documents.sweepFiles();
  }

  async stop(): Promise<void> {
    this.processor.stop();
    this.reindexer.stop();
    await Promise.allSettled(this.inFlight());
    await this.readers.close();
    await this.processor.handBack();
  }

  /** Resolves when every queued document and any reindex are done (for tests and benchmarks). */
  async idle(): Promise<void> {
    for (let running = this.inFlight(); running.length > 0; running = this.inFlight()) await Promise.allSettled(running);
  }

  create(userId: string, input: NewDocument): Promise<{ document: DocumentView; created: boolean }> {
    return this.documents.create(userId, input);
  }

  get(userId: string, id: string): Promise<DocumentView> {
    return this.documents.get(userId, id);
  }

  list(userId: string, query: ListQuery): Promise<{ documents: DocumentView[]; nextCursor: string | null }> {
    return this.documents.list(userId, query);
  }

  /** A document's extracted text, at most `maxChars` of it (see `DocumentStore.text`). */
  text(userId: string, id: string, maxChars: number): Promise<DocumentText> {
    return this.documents.text(userId, id, maxChars);
  }

  update(userId: string, id: string, changes: DocumentChanges): Promise<DocumentView> {
    return this.documents.update(userId, id, changes);
  }

  delete(userId: string, id: string): Promise<void> {
    return this.documents.delete(userId, id);
  }

  reindex(): Promise<ReindexStatus> {
    return this.reindexer.reindex();
  }

  reindexStatus(): Promise<ReindexStatus> {
    return this.reindexer.status();
  }

  private inFlight(): Array<Promise<void>> {
    const reindex = this.reindexer.inFlight();
    return [...this.processor.inFlight(), ...(reindex ? [reindex] : [])];
  }

  /** On a fresh knowledge base, the configured model becomes the one searches use. */
  private async ensureActiveModel(): Promise<void> {
    if (!(await this.models.active())) await this.models.register(await this.embedder(this.settings.embeddingModel), 'active');
  }
}
