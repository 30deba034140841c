import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { decodeCursor, encodeCursor, isUuid, type DocumentStatus, type JsonValue, type PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';
import type { EventBus } from '../events/index.ts';
import { chunkLimits } from './chunker.ts';
import type { DocumentWorkerPool } from './document-worker-pool.ts';
import { documentColumns, documentNotFound, publishDocumentStatus, toView, type DocumentRow, type DocumentView } from './document-view.ts';
import type { FileStore } from './file-store.ts';

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

export interface ListQuery {
  status?: DocumentStatus | undefined;
  tag?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** A document with its extracted text, cut at a length the caller chose. */
export interface DocumentText {
  document: DocumentView;
  text: string;
  /** Whether the text goes on past what is shown. */
  truncated: boolean;
}

export interface DocumentStoreOptions {
  database: PostgresDatabase;
  bus: EventBus;
  files: FileStore;
  readers: DocumentWorkerPool;
  /** Chunk settings for a document that names none. */
  defaults: { chunkSize: number; chunkOverlap: number };
  /** Hands a stored (or changed) document to background processing. */
  enqueue: (id: string, userId: string) => void;
}

/**
 * Documents as their owner sees them: create, read, list, change, delete.
 *
 * Upload parses the document at once (bad input answers 4xx and stores nothing), stores the
 * original and the row, and hands the document to processing; a change that needs new chunks makes
 * a new version the same way. Every query is scoped to the owner.
 */
export class DocumentStore {
  constructor(private readonly options: DocumentStoreOptions) {}

  /** Stores a document for processing; the same bytes from the same user return the existing one. */
  async create(userId: string, input: NewDocument): Promise<{ document: DocumentView; created: boolean }> {
    const { database, files, readers } = this.options;
    const checksum = createHash('sha256').update(input.bytes).digest('hex');
    const existing = await this.findByChecksum(userId, checksum);
    if (existing) return { document: toView(existing), created: false };
    const options = this.chunkOptions(input.chunkSize, input.overlap);
    const extracted = await readers.extract(userId, input.bytes, input.fileName);
    const id = randomUUID();
    const storageKey = `${id}.v1`;
    await files.write(storageKey, input.bytes);
    try {
      const row = await database.transaction(async (tx) => {
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
        if (inserted) await publishDocumentStatus(this.options.bus, tx, inserted);
        return inserted;
      });
      if (!row) {
        // The same bytes arrived twice at once: the other upload won.
        await files.remove(storageKey);
        return { document: toView((await this.findByChecksum(userId, checksum))!), created: false };
      }
      this.options.enqueue(row.id, userId);
      return { document: toView(row), created: true };
    } catch (error) {
      await files.remove(storageKey);
      throw error;
    }
  }

  async get(userId: string, id: string): Promise<DocumentView> {
    return toView(await this.row(userId, id));
  }

  /**
   * A document's extracted text (what was chunked), cut at `maxChars` characters by the database,
   * so a large document is never read whole to show its beginning.
   */
  async text(userId: string, id: string, maxChars: number): Promise<DocumentText> {
    if (!isUuid(id)) throw documentNotFound();
    const row = await this.options.database.db
      .selectFrom('kb_documents')
      .select(documentColumns)
      .select([sql<string>`left(text, ${maxChars})`.as('text_start'), sql<number>`char_length(text)`.as('text_length')])
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) throw documentNotFound();
    const { text_start: text, text_length: length, ...document } = row;
    return { document: toView(document), text, truncated: Number(length) > maxChars };
  }

  async list(userId: string, query: ListQuery): Promise<{ documents: DocumentView[]; nextCursor: string | null }> {
    let select = this.options.database.db.selectFrom('kb_documents').select(documentColumns).where('user_id', '=', userId);
    if (query.status) select = select.where('status', '=', query.status);
    if (query.tag) select = select.where(sql<boolean>`tags @> array[${query.tag}]::text[]`);
    // Pages by (creation time to the millisecond, id): the cursor carries what a JS Date can hold.
    const createdMs = sql<Date>`date_trunc('milliseconds', created_at)`;
    if (query.cursor) {
      const [at, id] = decodeCursor(query.cursor);
      select = select.where((eb) => eb.or([eb(createdMs, '<', at), eb.and([eb(createdMs, '=', at), eb('id', '<', id)])]));
    }
    const rows = await select
      .orderBy(createdMs, 'desc')
      .orderBy('id', 'desc')
      .limit(query.limit + 1)
      .execute();
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
    const { database, files, readers } = this.options;
    const current = await this.row(userId, id);
    const options = this.chunkOptions(changes.chunkSize ?? current.chunk_size, changes.overlap ?? current.chunk_overlap);
    const bytes = changes.content !== undefined ? Buffer.from(changes.content, 'utf8') : undefined;
    const extracted = bytes ? await readers.extract(userId, bytes, current.file_name ?? undefined) : undefined;
    const reprocess = extracted !== undefined || options.chunkSize !== current.chunk_size || options.overlap !== current.chunk_overlap;
    const version = current.version + 1;
    const storageKey = bytes ? `${id}.v${version}` : current.storage_key;
    if (bytes) await files.write(storageKey, bytes);
    let row: DocumentRow;
    try {
      row = await database.transaction(async (tx) => {
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
              ? {
                  version,
                  status: 'pending' as const,
                  chunk_size: options.chunkSize,
                  chunk_overlap: options.overlap,
                  error_code: null,
                  error_message: null,
                  lease_owner: null,
                  lease_expires_at: null,
                }
              : {}),
            updated_at: new Date(),
          })
          .where('id', '=', id)
          .where('user_id', '=', userId)
          .where('version', '=', current.version)
          .returning(documentColumns)
          .executeTakeFirst();
        if (!updated) throw new AppError('CONFLICT', 'The document changed while this update was made; read it again and retry.');
        if (reprocess) await publishDocumentStatus(this.options.bus, tx, updated);
        return updated;
      });
    } catch (error) {
      if (bytes) await files.remove(storageKey);
      if ((error as { code?: string }).code === '23505') throw new AppError('CONFLICT', 'You already have a document with this content.');
      throw error;
    }
    if (bytes && current.storage_key !== storageKey) await files.remove(current.storage_key);
    if (reprocess) this.options.enqueue(id, userId);
    return toView(row);
  }

  /** Deletes a document with its chunks, vectors and stored original. */
  async delete(userId: string, id: string): Promise<void> {
    const deleted = await this.options.database.db
      .deleteFrom('kb_documents')
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .returning('storage_key')
      .executeTakeFirst();
    if (!deleted) throw documentNotFound();
    await this.options.files.remove(deleted.storage_key);
  }

  /** Removes stored originals no document points to (left by an upload that died half-way). */
  async sweepFiles(): Promise<void> {
    await this.options.files.sweep(async (keys) => {
      if (keys.length === 0) return new Set();
      const rows = await this.options.database.db
        .selectFrom('kb_documents')
        .select('storage_key')
        .where('storage_key', 'in', keys)
        .execute();
      return new Set(rows.map((r) => r.storage_key));
    });
  }

  private chunkOptions(
    chunkSize = this.options.defaults.chunkSize,
    overlap = this.options.defaults.chunkOverlap,
  ): { chunkSize: number; overlap: number } {
    if (!Number.isInteger(chunkSize) || chunkSize < chunkLimits.minSize || chunkSize > chunkLimits.maxSize) {
      throw new AppError(
        'VALIDATION_FAILED',
        `chunkSize must be a whole number of tokens from ${chunkLimits.minSize} to ${chunkLimits.maxSize}.`,
      );
    }
    if (!Number.isInteger(overlap) || overlap < 0 || overlap > chunkSize / 2) {
      throw new AppError('VALIDATION_FAILED', 'overlap must be a whole number of tokens from 0 to half the chunk size.');
    }
    return { chunkSize, overlap };
  }

  private findByChecksum(userId: string, checksum: string): Promise<DocumentRow | undefined> {
    return this.options.database.db
      .selectFrom('kb_documents')
      .select(documentColumns)
      .where('user_id', '=', userId)
      .where('checksum', '=', checksum)
      .executeTakeFirst();
  }

  private async row(userId: string, id: string): Promise<DocumentRow> {
    if (!isUuid(id)) throw documentNotFound();
    const row = await this.options.database.db
      .selectFrom('kb_documents')
      .select(documentColumns)
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) throw documentNotFound();
    return row;
  }
}

function firstLine(text: string): string {
  const line = text.trim().split('\n', 1)[0]!.trim();
  return line.length > 120 ? `${line.slice(0, 117)}…` : line;
}
