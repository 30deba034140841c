import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AppError, isAppErrorCode, type AppErrorCode } from '../errors.ts';
import type { WorkerMessage, WorkerRequest } from './document-worker.ts';

const workerEntry = fileURLToPath(new URL('./document-worker.ts', import.meta.url));
const tsLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Loading the parsers takes a second or two on a busy machine; a minute means something is wrong. */
const startDeadlineMs = 60_000;

/**
 * A process whose resident memory is above this share of its limit after a task is replaced
 * before the next one: reused, what one document left (the heap V8 grew for it, pages the
 * allocator keeps) would count against another user's task. Starting again costs a second or two.
 */
const retireAtShare = 0.5;

export interface ReaderLimits {
  /** KB_READ_TIMEOUT_MS: how long one task may run, from when it starts. */
  timeoutMs: number;
  /** KB_READ_MEMORY_MB: resident memory of the process, heap and buffers together. */
  memoryMb: number;
}

/**
 * One document reader process (document-worker.ts), doing one task at a time, so that whatever
 * ends it ends one task only.
 *
 * Why a process and not a worker thread: a thread's heap limit leaves out ArrayBuffers and Buffers,
 * which is where a decompression bomb puts its gigabytes, and they count against the server's own
 * memory. A process has its own memory: its V8 heap is capped at the limit (--max-old-space-size),
 * and a thread inside it kills the process once its resident size, buffers included, passes the
 * limit (document-worker.ts). Limits of the design: the resident size is sampled every 10 ms, so a
 * task may overshoot by what it writes in that time; and memory the kernel has not yet mapped
 * (an allocation never written) is not counted, which is also memory nobody uses.
 *
 * The time limit starts when the task is handed to a started process, never while it waits.
 * A task over time is killed with its process (SIGKILL: a parse in progress cannot be asked to stop);
 * the process is forgotten first, so its late answer is ignored and no task is ever sent to it. A
 * process a task left above half its memory limit is retired the same way after answering.
 */
export class DocumentWorkerProcess {
  private child: ChildProcess | undefined;
  private starting: Promise<ChildProcess> | undefined;
  private retiring: Promise<void> | undefined;
  private closing = false;

  constructor(private readonly limits: ReaderLimits) {}

  /** Whether the process is up (a task given to it starts at once, without loading the parsers). */
  get started(): boolean {
    return this.child !== undefined;
  }

  async run<T>(request: WorkerRequest): Promise<T> {
    const child = await this.start();
    return new Promise<T>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        // Forgotten before it is killed: an answer already on its way is ignored (below), and the
        // next task starts a new process instead of being sent to this dying one.
        this.retire(child);
      }, this.limits.timeoutMs);
      const onMessage = (message: WorkerMessage) => {
        if (message.kind === 'ready' || timedOut) return;
        cleanup();
        // Memory a large document leaves behind would count against the next user's task.
        if (message.residentBytes > this.limits.memoryMb * 1024 * 1024 * retireAtShare) this.retire(child);
        if (message.kind === 'done') resolve(message.result as T);
        else reject(new AppError(knownCode(message.error.code), message.error.message));
      };
      // The slot is free again only once the process is gone, so no two tasks ever share one.
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        cleanup();
        if (timedOut) reject(this.tooSlow());
        else if (this.closing) reject(new AppError('SHUTTING_DOWN', 'The server stopped while reading the document; upload it again.'));
        else reject(this.ended(code, signal));
      };
      const cleanup = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(request);
    });
  }

  /** Ends the process (a task in it fails). */
  async close(): Promise<void> {
    this.closing = true;
    const child = this.child ?? (await this.starting?.catch(() => undefined));
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  private start(): Promise<ChildProcess> {
    if (this.child) return Promise.resolve(this.child);
    // A retired process is gone before its replacement starts: one process per slot, at any time.
    this.starting ??= (this.retiring ?? Promise.resolve()).then(() => this.spawn()).finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** Kills `child` after making sure no task is ever given to it again. */
  private retire(child: ChildProcess): void {
    if (this.child === child) this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.retiring = exited;
    void exited.then(() => {
      if (this.retiring === exited) this.retiring = undefined;
    });
    child.kill('SIGKILL');
  }

  private spawn(): Promise<ChildProcess> {
    const child = fork(workerEntry, [String(this.limits.memoryMb * 1024 * 1024)], {
      execArgv: ['--import', tsLoader, `--max-old-space-size=${this.limits.memoryMb}`],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    // An idle reader does not keep the server (or a CLI command) running.
    child.unref();
    child.channel?.unref();
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    // A message sent as the process dies fails here; its task then fails through 'exit'.
    child.on('error', () => undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(new AppError('INTERNAL', `The document reader did not start within ${startDeadlineMs / 1000} s.`));
      }, startDeadlineMs);
      const onMessage = (message: WorkerMessage) => {
        if (message.kind !== 'ready') return;
        cleanup();
        this.child = child;
        resolve(child);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        fail(new AppError('INTERNAL', `The document reader exited while starting (code ${code}, signal ${signal}).`));
      const fail = (error: AppError) => {
        cleanup();
        reject(error);
      };
      const cleanup = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  private tooSlow(): AppError {
    return new AppError(
      'DOCUMENT_TOO_COMPLEX',
      `Reading this document took longer than ${formatSeconds(this.limits.timeoutMs)} (KB_READ_TIMEOUT_MS).`,
    );
  }

  /** Why a process ended during a task that had not timed out. */
  private ended(code: number | null, signal: NodeJS.Signals | null): AppError {
    // SIGKILL: the process's own memory watchdog (or the system's out-of-memory killer). SIGABRT
    // or 134: V8 stopped at the heap limit.
    if (signal === 'SIGKILL' || signal === 'SIGABRT' || code === 134) {
      return new AppError(
        'DOCUMENT_TOO_COMPLEX',
        `Reading this document needs more than ${this.limits.memoryMb} MB of memory (KB_READ_MEMORY_MB).`,
      );
    }
    return new AppError('DOCUMENT_UNREADABLE', `The document reader stopped unexpectedly (code ${code}, signal ${signal}).`);
  }
}

function knownCode(code: string | undefined): AppErrorCode {
  return isAppErrorCode(code) ? code : 'DOCUMENT_UNREADABLE';
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
