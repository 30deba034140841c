import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/test-database.ts';
import { backupDatabase, readBackupHeader, restoreDatabase } from './backup.ts';
import { MigrationRunner } from './migration-runner.ts';

describe('backup and restore of the embedded database', () => {
  let source: TestDatabase;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-backup-'));
  const file = path.join(dir, 'backup.sql');

  beforeAll(async () => {
    source = await createTestDatabase('pglite');
    await source.database.db.insertInto('users').values({ email: 'kept@example.test', name: 'Kept' }).execute();
    await backupDatabase(source.database, file, { secretKey: 'the-secret-key' });
  });
  afterAll(async () => {
    await source.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a portable plain-SQL dump, with the secret key only when asked', async () => {
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toMatch(/CREATE TABLE "public"."users"/);
    expect(text).toMatch(/kept@example.test/);
    expect(readBackupHeader(file)).toEqual({ secretKey: 'the-secret-key' });

    const without = path.join(dir, 'without-key.sql');
    await backupDatabase(source.database, without);
    expect(readBackupHeader(without)).toEqual({});
    expect(fs.readFileSync(without, 'utf8')).not.toMatch(/the-secret-key/);
  });

  it('restores into an empty database, which then needs no migration', async () => {
    const target = await createTestDatabase('pglite', { migrate: false });
    try {
      await restoreDatabase(target.database, file);
      const users = await target.database.db.selectFrom('users').select('email').execute();
      expect(users.map((u) => u.email)).toEqual(['kept@example.test']);
      expect((await new MigrationRunner(target.database.db).status()).pending).toBe(0);
      // The session is usable afterwards (the dump clears search_path for itself).
      expect(await target.database.db.selectFrom('users').select('id').execute()).toHaveLength(1);
    } finally {
      await target.drop();
    }
  });

  it('refuses to restore over an existing installation', async () => {
    await expect(restoreDatabase(source.database, file)).rejects.toMatchObject({ code: 'RESTORE_REFUSED' });
    expect(await source.database.db.selectFrom('users').select('email').execute()).toHaveLength(1);
  });

  it('restores nothing from a broken backup', async () => {
    const broken = path.join(dir, 'broken.sql');
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(broken, `${text.slice(0, text.indexOf('INSERT INTO'))}INSERT INTO "public"."users" VALUES (broken;\n`);
    const target = await createTestDatabase('postgres', { migrate: false });
    try {
      await expect(restoreDatabase(target.database, broken)).rejects.toMatchObject({ code: 'RESTORE_REFUSED' });
      expect(await new MigrationRunner(target.database.db).isFresh()).toBe(true);
      const { rows } = await sql<{
        n: number;
      }>`select count(*)::int as n from information_schema.tables where table_schema = 'public'`.execute(target.database.db);
      expect(rows[0]?.n).toBe(0);
    } finally {
      await target.drop();
    }
  });
});

describe('backup and restore of a PostgreSQL server database', () => {
  it('round-trips through pg_dump into another server database', async () => {
    const source = await createTestDatabase('postgres');
    const target = await createTestDatabase('postgres', { migrate: false });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-backup-'));
    try {
      await source.database.db.insertInto('users').values({ email: 'server@example.test', name: 'S' }).execute();
      const file = path.join(dir, 'server.sql');
      await backupDatabase(source.database, file);
      expect(fs.existsSync(`${file}.partial`)).toBe(false);
      await restoreDatabase(target.database, file);
      expect((await target.database.db.selectFrom('users').select('email').execute()).map((u) => u.email)).toEqual(['server@example.test']);
      expect((await new MigrationRunner(target.database.db).status()).pending).toBe(0);
    } finally {
      await source.drop();
      await target.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
