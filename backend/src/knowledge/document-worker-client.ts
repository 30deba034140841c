import { Worker } from 'node:worker_threads';
import { AppError, isAppErrorCode } from '../errors.ts';
import type { Chunk, ChunkOptions } from './chunker.ts';
import type { ExtractResult, WorkerRequest, WorkerResponse } from './document-worker.ts';

/** Heap a worker may use; a document that needs more (a decompression bomb) is unreadable. */
const workerHeapMb = 512;

type Pending = { resolve: (value: never) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * Runs parsing and chunking in one worker thread, started on first use and replaced when it dies.
 * A task that runs out of memory or time kills the worker and fails with DOCUMENT_UNREADABLE.
 */
export class DocumentWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(private readonly timeoutMs = 60_000) {}

  extract(bytes: Uint8Array, fileName: string | undefined): Promise<ExtractResult> {
    return this.run({ kind: 'extract', bytes, fileName });
  }

  chunk(text: string, options: ChunkOptions): Promise<Chunk[]> {
    return this.run({ kind: 'chunk', text, options });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private run<T>(request: WithoutId<WorkerRequest>): Promise<T> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new AppError('DOCUMENT_UNREADABLE', `Reading the document took longer than ${this.timeoutMs / 1000} s.`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: never) => void, reject, timer });
      worker.postMessage({ ...request, id } as WorkerRequest);
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), {
      workerData: { entry: new URL('./document-worker.ts', import.meta.url).href },
      resourceLimits: { maxOldGenerationSizeMb: workerHeapMb },
    });
    worker.unref();
    worker.on('message', (response: WorkerResponse) => {
      const pending = this.pending.get(response.id);
      if (!pending) return;
      this.pending.delete(response.id);
      clearTimeout(pending.timer);
      if (response.ok) pending.resolve(response.result as never);
      else {
        const code = isAppErrorCode(response.error.code) ? response.error.code : 'DOCUMENT_UNREADABLE';
        pending.reject(new AppError(code, response.error.message));
      }
    });
    worker.on('error', (error) => {
      const outOfMemory = (error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.fail(new AppError('DOCUMENT_UNREADABLE', outOfMemory ? 'The document needs more memory to read than a document may use.' : error.message));
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.fail(new AppError('DOCUMENT_UNREADABLE', 'The document reader stopped unexpectedly.'));
    });
    this.worker = worker;
    return worker;
  }

  /** Fails every task in flight and retires the worker (the next task starts a fresh one). */
  private fail(error: AppError): void {
    const worker = this.worker;
    this.worker = undefined;
    void worker?.terminate();
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
      this.pending.delete(id);
    }
  }
}
