import { AppError } from '../errors.ts';
import type { Chunk, ChunkOptions } from './chunker.ts';
import type { ExtractLimits } from './document-parser.ts';
import type { ExtractResult, WorkerRequest } from './document-worker.ts';
import { DocumentWorkerProcess, type ReaderLimits } from './document-worker-process.ts';

export interface DocumentReaderSettings extends ReaderLimits, ExtractLimits {
  /** KB_WORKERS: reader processes, each reading one document at a time. */
  workers: number;
}

/**
 * Tasks that may wait, per user and in all. Past them an upload is refused at once (429
 * DOCUMENT_QUEUE_FULL for the user's own, 503 DOCUMENT_READERS_BUSY for everyone's) rather than
 * held: a held request ties up a connection for as long as the queue ahead of it, up to minutes.
 */
export const queueLimits = { perUser: 4, total: 100 } as const;

interface Task {
  userId: string;
  request: WorkerRequest;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * The document readers: a few processes (DocumentWorkerProcess) shared fairly by every user.
 *
 * - A user has at most one task running; their next ones wait without holding a process, so other
 *   users' tasks pass them. Among the tasks that may run, the oldest goes first.
 * - A task that runs out of time or memory ends with its own process; no other task shares it, and
 *   a process left large by a task is replaced before the next one (document-worker-process.ts).
 * - The queue is bounded (queueLimits). Chunking, which the background processing sends one per
 *   user at a time, is never refused for it.
 */
export class DocumentWorkerPool {
  private readonly processes: DocumentWorkerProcess[];
  private readonly idle: DocumentWorkerProcess[];
  private readonly waiting: Task[] = [];
  /** Waiting tasks per user, so a submit need not scan the queue. */
  private readonly waitingPerUser = new Map<string, number>();
  private readonly running = new Set<string>();
  private closed = false;

  constructor(private readonly settings: DocumentReaderSettings) {
    this.processes = Array.from({ length: settings.workers }, () => new DocumentWorkerProcess(settings));
    this.idle = [...this.processes];
  }

  /** Detects the type of `bytes`, extracts and redacts its text, for `userId`. */
  extract(userId: string, bytes: Uint8Array, fileName: string | undefined): Promise<ExtractResult> {
    const request: WorkerRequest = {
      kind: 'extract',
      bytes,
      fileName,
      limits: { maxInflatedBytes: this.settings.maxInflatedBytes, maxTextChars: this.settings.maxTextChars },
    };
    return this.submit(userId, request, { bounded: true });
  }

  chunk(userId: string, text: string, options: ChunkOptions): Promise<Chunk[]> {
    return this.submit(userId, { kind: 'chunk', text, options }, { bounded: false });
  }

  /** Fails waiting tasks and ends every process (a task running in one fails). */
  async close(): Promise<void> {
    this.closed = true;
    this.waitingPerUser.clear();
    for (const task of this.waiting.splice(0)) task.reject(shuttingDown());
    await Promise.all(this.processes.map((p) => p.close()));
  }

  private submit<T>(userId: string, request: WorkerRequest, options: { bounded: boolean }): Promise<T> {
    if (this.closed) return Promise.reject(shuttingDown());
    if (options.bounded) {
      if ((this.waitingPerUser.get(userId) ?? 0) >= queueLimits.perUser) {
        return Promise.reject(
          new AppError(
            'DOCUMENT_QUEUE_FULL',
            `You have ${queueLimits.perUser} documents waiting to be read; upload more once they are done.`,
          ),
        );
      }
      if (this.waiting.length >= queueLimits.total) return Promise.reject(new AppError('DOCUMENT_READERS_BUSY'));
    }
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ userId, request, resolve: resolve as (value: unknown) => void, reject });
      this.waitingPerUser.set(userId, (this.waitingPerUser.get(userId) ?? 0) + 1);
      this.dispatch();
    });
  }

  /** Starts every waiting task that has a free process and whose user has none running. */
  private dispatch(): void {
    while (this.idle.length > 0) {
      const at = this.waiting.findIndex((t) => !this.running.has(t.userId));
      if (at < 0) return;
      const [task] = this.waiting.splice(at, 1) as [Task];
      const left = (this.waitingPerUser.get(task.userId) ?? 1) - 1;
      if (left > 0) this.waitingPerUser.set(task.userId, left);
      else this.waitingPerUser.delete(task.userId);
      // A process that is up first: one ended by a task's limit starts again only when needed.
      const up = this.idle.findIndex((reader) => reader.started);
      const [reader] = this.idle.splice(up < 0 ? 0 : up, 1) as [DocumentWorkerProcess];
      this.running.add(task.userId);
      reader
        .run(task.request)
        .then(task.resolve, task.reject)
        .finally(() => {
          this.running.delete(task.userId);
          this.idle.push(reader);
          if (!this.closed) this.dispatch();
        });
    }
  }
}

const shuttingDown = () => new AppError('SHUTTING_DOWN', 'The server is stopping; upload the document again once it is back.');
