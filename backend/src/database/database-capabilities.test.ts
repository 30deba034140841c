import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { databaseCapabilities } from './database-capabilities.ts';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('database capabilities', () => {
  it('say what each driver allows: only the embedded database belongs to one process', () => {
    expect(databaseCapabilities.pglite).toEqual({ exclusive: true, inProcessNotify: true, selfManagedBackups: true });
    expect(databaseCapabilities.postgres).toEqual({ exclusive: false, inProcessNotify: false, selfManagedBackups: false });
  });

  it('are what product code outside database/ asks, never the driver name', () => {
    const offenders = (fs.readdirSync(src, { recursive: true }) as string[])
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.startsWith(`database${path.sep}`))
      .filter((file) => /\bdriver\s*[!=]==|[!=]==\s*[\w.]*\bdriver\b/.test(fs.readFileSync(path.join(src, file), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
