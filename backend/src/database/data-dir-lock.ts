import fs from 'node:fs';
import { AppError } from '../errors.ts';

/**
 * An exclusive lock on an embedded data directory: a lock file created with O_EXCL holding the
 * owner's pid. A lock whose process no longer exists (the owner was killed) is stale and taken
 * over; a live owner makes the caller fail with DATABASE_LOCKED and leaves the owner untouched.
 */
export class DataDirLock {
  private constructor(readonly file: string) {}

  static acquire(file: string, purpose: string): DataDirLock {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.writeFileSync(file, JSON.stringify({ pid: process.pid, purpose, since: new Date().toISOString() }), {
          flag: 'wx',
          mode: 0o600,
        });
        return new DataDirLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = readOwner(file);
      if (owner && isAlive(owner.pid)) {
        throw new AppError(
          'DATABASE_LOCKED',
          `The data directory is in use by another Agentry process (pid ${owner.pid}, ${owner.purpose} since ${owner.since}). ` +
            `Stop it first, or point AGENTRY_DATA_DIR at another directory.`,
          { pid: owner.pid },
        );
      }
      fs.rmSync(file, { force: true }); // stale: its owner is gone
    }
    throw new AppError('DATABASE_LOCKED', `Could not take the lock ${file}.`);
  }

  /** Who holds the lock now, if anyone alive does. */
  static holder(file: string): { pid: number; purpose: string } | undefined {
    const owner = readOwner(file);
    return owner && isAlive(owner.pid) ? owner : undefined;
  }

  release(): void {
    const owner = readOwner(this.file);
    if (owner?.pid === process.pid) fs.rmSync(this.file, { force: true });
  }
}

function readOwner(file: string): { pid: number; purpose: string; since: string } | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid?: unknown; purpose?: unknown; since?: unknown };
    if (typeof parsed.pid !== 'number') return undefined;
    return { pid: parsed.pid, purpose: String(parsed.purpose ?? 'unknown'), since: String(parsed.since ?? '') };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
