import type { Selectable } from 'kysely';
import type { DocumentStatus, Executor, JsonValue, KbDocumentsTable } from '../database/index.ts';
import { AppError, type ReportedError } from '../errors.ts';
import type { EventBus } from '../events/index.ts';

/** A document as the API shows it: no text, no lease, times as ISO strings. */
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

/** A document row without its text, which only processing reads. */
export type DocumentRow = Omit<Selectable<KbDocumentsTable>, 'text'>;

/** Every column of a document row but its text. */
export const documentColumns = [
  'id',
  'user_id',
  'title',
  'source',
  'tags',
  'metadata',
  'file_name',
  'content_type',
  'size_bytes',
  'checksum',
  'storage_key',
  'redactions',
  'chunk_size',
  'chunk_overlap',
  'status',
  'error_code',
  'error_message',
  'version',
  'active_version',
  'chunk_count',
  'embedding_model',
  'lease_owner',
  'lease_expires_at',
  'created_at',
  'updated_at',
  'processed_at',
] as const;

export function toView(row: DocumentRow): DocumentView {
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

/**
 * Publishes a document's status in the transaction that changed it, so the event is seen only if
 * the change commits.
 */
export async function publishDocumentStatus(bus: EventBus, tx: Executor, row: DocumentRow): Promise<void> {
  await bus.publish(tx, {
    userId: row.user_id,
    topic: 'knowledge',
    event: {
      type: 'kb.document.status',
      data: {
        documentId: row.id,
        status: row.status,
        ...(row.error_code ? { error: { code: row.error_code, message: row.error_message ?? '' } } : {}),
      },
    },
  });
}

export const documentNotFound = () => new AppError('NOT_FOUND', 'No such document.');
