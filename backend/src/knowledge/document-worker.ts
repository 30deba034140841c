import { Worker } from 'node:worker_threads';
import { AppError } from '../errors.ts';
import { chunkText, type Chunk, type ChunkOptions } from './chunker.ts';
import { redactSecrets } from '../redaction/index.ts';
import { detectDocumentType, extractDocumentText, type DocumentType, type ExtractLimits } from './document-parser.ts';

/*
 * A document reader process: CPU- and memory-heavy work (parsing, tokenising) away from the server,
 * one task at a time, started by DocumentWorkerProcess with the process's memory limit as its
 * argument. A task that outgrows the limit takes only this process down; the server starts another.
 */

export type WorkerRequest =
  | { kind: 'extract'; bytes: Uint8Array; fileName: string | undefined; limits: ExtractLimits }
  | { kind: 'chunk'; text: string; options: ChunkOptions };

export interface ExtractResult {
  type: DocumentType;
  /** The text with credentials redacted. */
  text: string;
  redactions: number;
}

/**
 * What the process sends: `ready` once, when its modules are loaded, then one answer per request,
 * with the process's resident memory once the task is done (the server retires a process left large).
 */
export type WorkerMessage =
  | { kind: 'ready' }
  | { kind: 'done'; result: ExtractResult | Chunk[]; residentBytes: number }
  | { kind: 'failed'; error: { code: string | undefined; message: string }; residentBytes: number };

async function extract(bytes: Uint8Array, fileName: string | undefined, limits: ExtractLimits): Promise<ExtractResult> {
  const type = await detectDocumentType(bytes, fileName);
  const raw = await extractDocumentText(bytes, type, limits);
  // Checked before redaction and before the text leaves this process: a .docx or PDF within its
  // unpacking budget may still hold a hundred megabytes of text, stored and chunked whole.
  if (raw.length > limits.maxTextChars) {
    throw new AppError(
      'DOCUMENT_TOO_COMPLEX',
      `This document's text is longer than ${limits.maxTextChars.toLocaleString('en')} characters (KB_MAX_TEXT_CHARS); split it into smaller documents.`,
    );
  }
  if (raw.trim() === '') {
    throw new AppError(
      'DOCUMENT_EMPTY',
      type === 'application/pdf' ? 'This PDF has no text layer (a scan?); run it through OCR first.' : 'The document has no text.',
    );
  }
  return { type, ...redactSecrets(raw) };
}

/**
 * Kills this process once its resident memory passes `limitBytes`. Resident memory counts what a
 * heap limit does not: ArrayBuffers and Buffers (pdf.js's and zlib's output), native allocations.
 * The check runs on a thread of its own, because the main one may be inside a parse for seconds,
 * every 10 ms: memory written at a few GB/s overshoots the limit by tens of megabytes at most.
 * SIGKILL is how the server tells this end from any other (it kills only for time itself).
 */
function watchMemory(limitBytes: number): void {
  const watchdog = new Worker(
    `const { workerData } = require('node:worker_threads');
     setInterval(() => {
       if (process.memoryUsage.rss() > workerData.limitBytes) process.kill(process.pid, 'SIGKILL');
     }, 10);`,
    { eval: true, workerData: { limitBytes }, execArgv: [] },
  );
  watchdog.unref();
}

function send(message: WorkerMessage): void {
  process.send!(message);
}

if (process.send) {
  watchMemory(Number(process.argv[2]));
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (request: WorkerRequest) => {
    try {
      const result =
        request.kind === 'extract'
          ? await extract(request.bytes, request.fileName, request.limits)
          : chunkText(request.text, request.options);
      send({ kind: 'done', result, residentBytes: process.memoryUsage.rss() });
    } catch (error) {
      const code = error instanceof AppError ? error.code : undefined;
      send({ kind: 'failed', error: { code, message: (error as Error).message }, residentBytes: process.memoryUsage.rss() });
    }
  });
  send({ kind: 'ready' });
}
