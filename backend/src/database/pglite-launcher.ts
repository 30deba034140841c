import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AppError } from '../errors.ts';
import { DataDirLock } from './data-dir-lock.ts';
import type { HostMessage, ParentMessage } from './pglite-protocol.ts';

const hostEntry = fileURLToPath(new URL('./pglite-host.ts', import.meta.url));
const tsLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** A running embedded database: its process, its socket, and the lock on its directory. */
export interface PgliteHost {
  /** Directory holding the Unix socket; pass it to `pg` as `host`. */
  readonly socketDir: string;
  readonly serverVersion: string;
  /** Writes a plain-SQL dump. Only while no client is working (see pglite-host.ts). */
  dump(file: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Locks `dataDir` and starts its database process. Fails with DATABASE_LOCKED when another live
 * process holds the directory, and with DATABASE_VERSION_MISMATCH when the directory was written
 * by another PostgreSQL major; either way nothing in the directory is touched.
 */
export async function startPgliteHost(
  dataDir: string,
  options: { maxConnections: number; purpose: string; onUnexpectedExit?: (error: Error) => void },
): Promise<PgliteHost> {
  fs.mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o700 });
  const lock = DataDirLock.acquire(`${dataDir}.lock`, options.purpose);
  // A private directory for the socket: mode 0700, so only this user can connect. A temporary
  // directory keeps the path short (Unix socket paths are limited to ~107 bytes).
  const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-db-'));
  let child: ChildProcess | undefined;
  try {
    child = fork(hostEntry, [], {
      execArgv: ['--import', tsLoader],
      env: {
        ...process.env,
        AGENTRY_PGLITE_DIR: dataDir,
        AGENTRY_PGLITE_SOCKET: path.join(socketDir, '.s.PGSQL.5432'),
        AGENTRY_PGLITE_MAX_CONNECTIONS: String(options.maxConnections),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    if (child.pid !== undefined) lock.recordHelper(child.pid);
    const serverVersion = await waitForReady(child);
    const host = new RunningHost(child, lock, socketDir, serverVersion);
    child.once('exit', (code, signal) => {
      if (host.isStopping()) return;
      options.onUnexpectedExit?.(
        new AppError('DATABASE_UNAVAILABLE', `The embedded database process exited unexpectedly (code ${code}, signal ${signal}).`),
      );
    });
    return host;
  } catch (error) {
    child?.kill('SIGKILL');
    fs.rmSync(socketDir, { recursive: true, force: true });
    lock.release();
    throw error;
  }
}

/** Opening a large directory takes seconds; a minute means something is wrong. */
const startDeadlineMs = 60_000;

function waitForReady(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new AppError('DATABASE_UNAVAILABLE', `The embedded database did not start within ${startDeadlineMs / 1000} seconds.`));
    }, startDeadlineMs);
    const onMessage = (message: HostMessage) => {
      if (message.type === 'ready') {
        cleanup();
        resolve(message.serverVersion);
      } else if (message.type === 'fatal') {
        cleanup();
        reject(new AppError(message.code, message.message));
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new AppError('DATABASE_UNAVAILABLE', `The embedded database process exited during start (code ${code}, signal ${signal}).`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

class RunningHost implements PgliteHost {
  private nextDumpId = 1;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly child: ChildProcess,
    private readonly lock: DataDirLock,
    readonly socketDir: string,
    readonly serverVersion: string,
  ) {}

  isStopping(): boolean {
    return this.stopping !== undefined;
  }

  dump(file: string): Promise<void> {
    const id = this.nextDumpId++;
    return new Promise((resolve, reject) => {
      const onMessage = (message: HostMessage) => {
        if (message.type !== 'dumped' || message.id !== id) return;
        cleanup();
        if (message.error) reject(new Error(`Backup failed: ${message.error}`));
        else resolve();
      };
      const onExit = () => {
        cleanup();
        reject(new AppError('DATABASE_UNAVAILABLE', 'The embedded database process exited during the backup.'));
      };
      const cleanup = () => {
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      this.child.on('message', onMessage);
      this.child.on('exit', onExit);
      this.send({ type: 'dump', id, file: path.resolve(file) });
    });
  }

  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        fs.rmSync(this.socketDir, { recursive: true, force: true });
        this.lock.release();
        resolve();
      };
      // PGlite flushes to disk on close; give it time, then insist.
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      if (this.child.exitCode !== null || this.child.signalCode !== null) return done();
      this.child.once('exit', done);
      this.send({ type: 'shutdown' });
    });
    return this.stopping;
  }

  private send(message: ParentMessage): void {
    if (this.child.connected) this.child.send(message);
  }
}
