import { sql } from 'kysely';
import type { PostgresDatabase } from '../database/index.ts';
import type { Chunk } from './chunker.ts';
import type { EmbeddingModel } from './embedding-models.ts';
import { StatementBudget, writeStatementLimits } from './statement-budget.ts';

/** A document version being processed under this instance's lease. */
export interface LeasedDocument {
  id: string;
  userId: string;
  version: number;
}

/** Chunks of one document with their vectors: `vectors[model][chunk]`, in the order of `models`. */
export interface ChunkBatch {
  document: LeasedDocument;
  chunks: Chunk[];
  models: EmbeddingModel[];
  vectors: number[][][];
}

export interface ChunkWriterOptions {
  database: PostgresDatabase;
  /** The lease owner this instance writes as: a document whose lease it no longer holds gets no rows. */
  leaseOwner: string;
  /** How far each write pushes the lease of the documents it writes. */
  leaseMs: number;
  /** Vectors per statement at most. */
  maxRows?: number;
  /** How long one statement should hold the connection: on the embedded database readers wait that long. */
  targetMs?: number;
}

/** One chunk waiting to be written, with what its batch needs to be told. */
interface PendingChunk {
  batch: ChunkBatch;
  at: number;
}

interface PendingBatch {
  batch: ChunkBatch;
  written: number;
  /** Written in statements of its own: a statement it shared failed, and it may be the cause. */
  alone: boolean;
  settle: (stored: boolean) => void;
  fail: (error: unknown) => void;
}

/**
 * Writes chunks and their vectors for every document being processed, several documents per
 * statement when several are waiting.
 *
 * Each write is one statement, so it is atomic without a transaction around it: it renews the
 * leases of the documents it writes and stores rows only for those whose lease this instance
 * still holds. A document's chunks become searchable only when the document is completed (search
 * joins on its `active_version`), so a document needs no transaction spanning all of its chunks.
 *
 * Statements are kept short, in vectors and in time (statement-budget.ts): on the embedded database
 * every reader waits for the statement in progress. After each statement the writer queues for the
 * connection again, behind the readers that asked for it meanwhile.
 */
export class ChunkWriter {
  private readonly queue: PendingBatch[] = [];
  private readonly budget: StatementBudget;
  private draining = false;
  private stopped = false;

  constructor(private readonly options: ChunkWriterOptions) {
    this.budget = new StatementBudget({
      targetMs: options.targetMs ?? writeStatementLimits.targetMs,
      maxRows: options.maxRows ?? writeStatementLimits.maxRows,
    });
  }

  /**
   * Stores `batch`. Resolves true once all of its rows are stored, false if the document's lease
   * was lost (it was changed, deleted or taken over) before they all were.
   */
  write(batch: ChunkBatch): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    if (batch.chunks.length === 0) return Promise.resolve(true);
    return new Promise<boolean>((settle, fail) => {
      this.queue.push({ batch, written: 0, alone: false, settle, fail });
      if (!this.draining) void this.drain();
    });
  }

  /**
   * Writes nothing more: the statement in progress finishes, and every batch still waiting (and
   * any written from now on) resolves false, as for a lost lease, so the documents' runs end at
   * once instead of holding shutdown for their queued rows.
   */
  stop(): void {
    this.stopped = true;
    if (!this.draining) this.settleWaiting();
  }

  private settleWaiting(): void {
    for (const pending of this.queue.splice(0)) pending.settle(false);
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const taken = this.take();
        try {
          await this.store(taken);
        } catch (error) {
          this.failed(taken, error);
        }
        // Back into the connection's queue, behind whoever asked for it meanwhile.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.draining = false;
      if (this.stopped) this.settleWaiting();
    }
  }

  /**
   * A statement failed. If it held one document's rows, that document fails. If it held several,
   * any one of them may be the cause (a bad vector from an embedding server, say), so each goes
   * again in statements of its own, from its first row in this one: only the cause then fails,
   * and one user's document never fails another's.
   */
  private failed(taken: PendingChunk[], error: unknown): void {
    const firstRow = new Map<PendingBatch, number>();
    for (const { batch, at } of taken) {
      const pending = this.pendingOf(batch);
      if (pending && !firstRow.has(pending)) firstRow.set(pending, at);
    }
    if (firstRow.size === 1) {
      for (const pending of firstRow.keys()) this.remove(pending, (p) => p.fail(error));
      return;
    }
    for (const [pending, at] of firstRow) {
      pending.written = at;
      pending.alone = true;
    }
  }

  /**
   * The next statement's chunks: from the oldest batches first, as many vectors as a statement
   * holds; only one batch's when a batch must be written alone.
   */
  private take(): PendingChunk[] {
    let room = this.budget.rows();
    const taken: PendingChunk[] = [];
    const alone = this.queue.find((p) => p.alone);
    for (const pending of alone ? [alone] : this.queue) {
      const perChunk = Math.max(1, pending.batch.models.length);
      while (pending.written < pending.batch.chunks.length && (room >= perChunk || taken.length === 0)) {
        taken.push({ batch: pending.batch, at: pending.written++ });
        room -= perChunk;
      }
      if (room <= 0) break;
    }
    return taken;
  }

  private async store(taken: PendingChunk[]): Promise<void> {
    const chunks = taken.map(({ batch, at }) => ({ document: batch.document, chunk: batch.chunks[at]! }));
    const vectors = taken.flatMap(({ batch, at }) =>
      batch.models.map((m, mi) => ({
        document: batch.document,
        index: batch.chunks[at]!.index,
        model: m.model,
        embedding: `[${batch.vectors[mi]![at]!.join(',')}]`,
      })),
    );
    // One statement: the lease renewal and both inserts commit together, and the inserts see only
    // the documents whose lease was renewed. Data-modifying CTEs run whether or not they are read.
    // Columns go as arrays (not JSON, which rejects the lone surrogate a chunk boundary can leave).
    const started = performance.now();
    const { rows: renewed } = await sql<{ id: string; version: number }>`
      with chunk_rows as (
        select * from unnest(
          ${chunks.map((r) => r.document.id)}::uuid[], ${chunks.map((r) => r.document.version)}::integer[],
          ${chunks.map((r) => r.document.userId)}::uuid[], ${chunks.map((r) => r.chunk.index)}::integer[],
          ${chunks.map((r) => r.chunk.content)}::text[], ${chunks.map((r) => r.chunk.tokenCount)}::integer[],
          ${chunks.map((r) => r.chunk.start)}::integer[], ${chunks.map((r) => r.chunk.end)}::integer[]
        ) as r(document_id, version, user_id, chunk_index, content, token_count, char_start, char_end)
      ), vector_rows as (
        select * from unnest(
          ${vectors.map((r) => r.document.id)}::uuid[], ${vectors.map((r) => r.document.version)}::integer[],
          ${vectors.map((r) => r.index)}::integer[], ${vectors.map((r) => r.model)}::text[],
          ${vectors.map((r) => r.embedding)}::text[]
        ) as r(document_id, version, chunk_index, model, embedding)
      ), renewed as (
        update kb_documents d set lease_expires_at = now() + ${`${this.options.leaseMs} milliseconds`}::interval
        where (d.id, d.version) in (select distinct document_id, version from chunk_rows)
          and d.lease_owner = ${this.options.leaseOwner}
        returning d.id, d.version
      ), stored as (
        insert into kb_chunks (document_id, user_id, version, chunk_index, content, token_count, char_start, char_end)
        select c.document_id, c.user_id, c.version, c.chunk_index, c.content, c.token_count, c.char_start, c.char_end
        from chunk_rows c join renewed r on r.id = c.document_id and r.version = c.version
        returning id, document_id, version, chunk_index, user_id
      ), embedded as (
        insert into kb_embeddings (chunk_id, model, user_id, embedding)
        select s.id, v.model, s.user_id, v.embedding::vector
        from stored s join vector_rows v
          on v.document_id = s.document_id and v.version = s.version and v.chunk_index = s.chunk_index
      )
      select id, version from renewed`.execute(this.options.database.db);
    const kept = new Set(renewed.map((r) => `${r.id}/${r.version}`));
    // Priced by the vectors it stored: those of a lost lease cost next to nothing and would make
    // the next statement look cheap.
    const stored = vectors.filter((v) => kept.has(`${v.document.id}/${v.document.version}`)).length;
    this.budget.note(performance.now() - started, stored);
    for (const batch of new Set(taken.map((c) => c.batch))) {
      const pending = this.pendingOf(batch);
      if (!kept.has(`${batch.document.id}/${batch.document.version}`)) this.remove(pending, (p) => p.settle(false));
      else if (pending && pending.written === batch.chunks.length) this.remove(pending, (p) => p.settle(true));
    }
  }

  private pendingOf(batch: ChunkBatch): PendingBatch | undefined {
    return this.queue.find((p) => p.batch === batch);
  }

  private remove(pending: PendingBatch | undefined, settle: (p: PendingBatch) => void): void {
    if (!pending) return;
    const at = this.queue.indexOf(pending);
    if (at >= 0) this.queue.splice(at, 1);
    settle(pending);
  }
}
