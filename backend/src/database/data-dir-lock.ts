import fs from 'node:fs';
import { AppError } from '../errors.ts';

interface Owner {
  pid: number;
  /** The embedded database process the owner started: it may outlive a killed owner briefly. */
  helperPid?: number;
  purpose: string;
  since: string;
}

/**
 * An exclusive lock on an embedded data directory: a lock file created with O_EXCL naming the
 * owning process and the database process it started. The lock is live while either process
 * exists; a second opener fails with DATABASE_LOCKED and leaves the owner untouched. A lock whose
 * processes are all gone is stale: it is renamed away (atomically, so of two processes taking
 * it over only one succeeds) and the exclusive create is tried again.
 */
export class DataDirLock {
  private constructor(
    readonly file: string,
    private owner: Owner,
  ) {}

  static acquire(file: string, purpose: string): DataDirLock {
    for (let attempt = 0; attempt < 5; attempt++) {
      const owner: Owner = { pid: process.pid, purpose, since: new Date().toISOString() };
      try {
        fs.writeFileSync(file, JSON.stringify(owner), { flag: 'wx', mode: 0o600 });
        return new DataDirLock(file, owner);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const current = readOwner(file);
      if (current && isLive(current)) {
        throw new AppError(
          'DATABASE_LOCKED',
          `The data directory is in use by another Agentry process (pid ${current.pid}, ${current.purpose} since ${current.since}). ` +
            `Stop it first, or point AGENTRY_DATA_DIR at another directory.`,
          { details: { pid: current.pid } },
        );
      }
      takeOverStale(file, current);
    }
    throw new AppError('DATABASE_LOCKED', `Could not take the lock ${file}.`);
  }

  /** Records the database process this owner started, so the lock outlives neither. */
  recordHelper(pid: number): void {
    this.owner = { ...this.owner, helperPid: pid };
    fs.writeFileSync(this.file, JSON.stringify(this.owner), { mode: 0o600 });
  }

  release(): void {
    if (readOwner(this.file)?.pid === process.pid) fs.rmSync(this.file, { force: true });
  }
}

function takeOverStale(file: string, stale: Owner | undefined): void {
  const aside = `${file}.stale-${process.pid}`;
  try {
    fs.renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else took it over first
    throw error;
  }
  const moved = readOwner(aside);
  if (moved && stale && moved.pid !== stale.pid && isLive(moved)) {
    fs.renameSync(aside, file); // a fresh lock arrived between our read and our rename: put it back
    return;
  }
  fs.rmSync(aside, { force: true });
}

function readOwner(file: string): Owner | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Owner>;
    if (typeof parsed.pid !== 'number') return undefined;
    return {
      pid: parsed.pid,
      ...(typeof parsed.helperPid === 'number' ? { helperPid: parsed.helperPid } : {}),
      purpose: String(parsed.purpose ?? 'unknown'),
      since: String(parsed.since ?? ''),
    };
  } catch {
    return undefined;
  }
}

function isLive(owner: Owner): boolean {
  return isAlive(owner.pid) || (owner.helperPid !== undefined && isAlive(owner.helperPid));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
