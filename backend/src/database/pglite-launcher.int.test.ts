import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestTarget } from '../../test/test-database.ts';
import { AppError } from '../errors.ts';
import { PostgresDatabase } from './postgres-database.ts';

const pool = { max: 2, timeoutMs: 2000, statementTimeoutMs: 0 };

describe('the embedded data directory', () => {
  let target: Awaited<ReturnType<typeof createTestTarget>>;
  let dir: string;

  beforeAll(async () => {
    target = await createTestTarget('pglite');
    if (target.target.driver !== 'pglite') throw new Error('unreachable');
    dir = target.target.dataDir;
  });
  afterAll(() => target.drop());

  it('is locked: a second opener fails with DATABASE_LOCKED and the first keeps working', async () => {
    const first = await PostgresDatabase.open(target.target, { pool });
    try {
      const second = await PostgresDatabase.open(target.target, { pool }).catch((e: unknown) => e);
      expect(second).toBeInstanceOf(AppError);
      expect((second as AppError).code).toBe('DATABASE_LOCKED');
      expect((second as AppError).message).toMatch(new RegExp(`pid ${process.pid}`));
      expect(await first.ping()).toBe(true);
    } finally {
      await first.close();
    }
    expect(fs.existsSync(`${dir}.lock`)).toBe(false); // closing releases it
  });

  it('takes over a stale lock left by a process that no longer exists', async () => {
    fs.writeFileSync(`${dir}.lock`, JSON.stringify({ pid: 2 ** 22 + 12345, purpose: 'server', since: 'earlier' }));
    const database = await PostgresDatabase.open(target.target, { pool });
    expect(await database.ping()).toBe(true);
    await database.close();
  });

  it('refuses a directory written by another PostgreSQL major, touching nothing, with the upgrade path', async () => {
    const versionFile = path.join(dir, 'PG_VERSION');
    const original = fs.readFileSync(versionFile, 'utf8');
    fs.writeFileSync(versionFile, '16\n');
    try {
      const error = await PostgresDatabase.open(target.target, { pool }).catch((e: unknown) => e);
      expect((error as AppError).code).toBe('DATABASE_VERSION_MISMATCH');
      expect((error as AppError).message).toMatch(/PostgreSQL 16.*agentry backup.*agentry restore/s);
      expect(fs.readFileSync(versionFile, 'utf8')).toBe('16\n');
      expect(fs.existsSync(`${dir}.lock`)).toBe(false);
    } finally {
      fs.writeFileSync(versionFile, original);
    }
  });
});
