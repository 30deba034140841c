import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Stored originals, in a local directory under names the server makes up. A file is written to a
 * temporary name and renamed into place, so a half-written file never has a real name; the
 * start-up sweep removes what no document points to.
 */
export class FileStore {
  constructor(readonly dir: string) {}

  async write(key: string, bytes: Uint8Array): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temporary = path.join(this.dir, `.tmp-${randomUUID()}`);
    try {
      await fs.writeFile(temporary, bytes, { mode: 0o600 });
      await fs.rename(temporary, this.path(key));
    } catch (error) {
      await fs.rm(temporary, { force: true });
      throw error;
    }
  }

  async remove(key: string): Promise<void> {
    await fs.rm(this.path(key), { force: true });
  }

  /**
   * Removes files no document references, and temporary files, older than `graceMs` (so an upload
   * in flight on another instance keeps its file). Returns how many went.
   */
  async sweep(isReferenced: (keys: string[]) => Promise<Set<string>>, graceMs = 10 * 60_000): Promise<number> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return 0;
    }
    const cutoff = Date.now() - graceMs;
    const old: string[] = [];
    for (const name of names) {
      const stat = await fs.stat(path.join(this.dir, name)).catch(() => undefined);
      if (stat?.isFile() && stat.mtimeMs < cutoff) old.push(name);
    }
    const referenced = await isReferenced(old.filter((name) => !name.startsWith('.tmp-')));
    const orphans = old.filter((name) => !referenced.has(name));
    await Promise.all(orphans.map((name) => fs.rm(path.join(this.dir, name), { force: true })));
    return orphans.length;
  }

  private path(key: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(key) || key.startsWith('.')) throw new Error(`Not a storage key: ${key}`);
    return path.join(this.dir, key);
  }
}
