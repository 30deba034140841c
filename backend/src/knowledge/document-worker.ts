import { parentPort } from 'node:worker_threads';
import { AppError } from '../errors.ts';
import { chunkText, type Chunk, type ChunkOptions } from './chunker.ts';
import { detectDocumentType, extractDocumentText, type DocumentType } from './document-parser.ts';
import { redactSecrets } from '../redaction/index.ts';

/*
 * The document worker's side: CPU-heavy work (parsing, tokenising) off the server's event loop.
 * One request in, one answer out; an AppError crosses as its code and message.
 */

export type WorkerRequest =
  | { id: number; kind: 'extract'; bytes: Uint8Array; fileName: string | undefined }
  | { id: number; kind: 'chunk'; text: string; options: ChunkOptions };

export interface ExtractResult {
  type: DocumentType;
  /** The text with credentials redacted. */
  text: string;
  redactions: number;
}

export type WorkerResponse =
  | { id: number; ok: true; result: ExtractResult | Chunk[] }
  | { id: number; ok: false; error: { code: string | undefined; message: string } };

async function extract(bytes: Uint8Array, fileName: string | undefined): Promise<ExtractResult> {
  const type = await detectDocumentType(bytes, fileName);
  const raw = await extractDocumentText(bytes, type);
  if (raw.trim() === '') {
    throw new AppError(
      'DOCUMENT_EMPTY',
      type === 'application/pdf' ? 'This PDF has no text layer (a scan?); run it through OCR first.' : 'The document has no text.',
    );
  }
  return { type, ...redactSecrets(raw) };
}

parentPort!.on('message', async (request: WorkerRequest) => {
  try {
    const result = request.kind === 'extract' ? await extract(request.bytes, request.fileName) : chunkText(request.text, request.options);
    parentPort!.postMessage({ id: request.id, ok: true, result } satisfies WorkerResponse);
  } catch (error) {
    const code = error instanceof AppError ? error.code : undefined;
    parentPort!.postMessage({ id: request.id, ok: false, error: { code, message: (error as Error).message } } satisfies WorkerResponse);
  }
});
