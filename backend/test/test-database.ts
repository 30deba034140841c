import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { MigrationRunner, PostgresDatabase, type DatabaseDriver, type DatabaseTarget } from '../src/database/index.ts';

export const drivers: DatabaseDriver[] = ['pglite', 'postgres'];

export interface TestDatabase {
  database: PostgresDatabase;
  target: DatabaseTarget;
  /** For embedded targets: the data directory that holds the database's directory. */
  dataDir?: string;
  drop(): Promise<void>;
}

export interface TestTargetOptions {
  /**
   * A server database owned by a role of its own that is no superuser, as on a managed server: it
   * may create tables but not pgvector (an untrusted extension), so the knowledge base is off
   * there even though the test server has pgvector. PostgreSQL only.
   */
  withoutPgvector?: boolean;
}

/** A fresh database target of its own for a suite: a copy of the embedded template, or a new server database. */
export async function createTestTarget(
  driver: DatabaseDriver,
  options: TestTargetOptions = {},
): Promise<{ target: DatabaseTarget; dataDir?: string; drop(): Promise<void> }> {
  if (options.withoutPgvector && driver !== 'postgres')
    throw new Error('withoutPgvector needs a PostgreSQL server: PGlite always has pgvector');
  if (driver === 'pglite') {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-test-'));
    const dir = path.join(dataDir, 'pglite');
    fs.cpSync(inject('pgliteTemplate'), dir, { recursive: true });
    return { target: { driver, dataDir: dir }, dataDir, drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }) };
  }
  const admin = inject('postgresUrl');
  const name = `agentry_test_${randomBytes(6).toString('hex')}`;
  const url = new URL(admin);
  url.pathname = `/${name}`;
  if (options.withoutPgvector) {
    // The role and the database share the random name; the test server trusts local connections.
    await withClient(admin, async (client) => {
      await client.query(`create role "${name}" login`);
      await client.query(`create database "${name}" owner "${name}"`);
    });
    url.username = name;
  } else {
    await withClient(admin, (client) => client.query(`create database "${name}"`));
  }
  return {
    target: { driver, url: url.toString() },
    drop: () =>
      withClient(admin, async (client) => {
        await client.query(`drop database if exists "${name}" with (force)`);
        if (options.withoutPgvector) await client.query(`drop role if exists "${name}"`);
      }),
  };
}

/** Opens a fresh database (migrated unless told otherwise); `drop()` closes and deletes it. */
export async function createTestDatabase(
  driver: DatabaseDriver,
  options: { migrate?: boolean; poolMax?: number; poolTimeoutMs?: number } & TestTargetOptions = {},
): Promise<TestDatabase> {
  const { target, dataDir, drop } = await createTestTarget(driver, { withoutPgvector: options.withoutPgvector ?? false });
  const database = await PostgresDatabase.open(target, {
    pool: { max: options.poolMax ?? 5, timeoutMs: options.poolTimeoutMs ?? 3000, statementTimeoutMs: 30_000 },
    purpose: 'test',
  });
  if (options.migrate !== false) await new MigrationRunner(database.db).up();
  return {
    database,
    target,
    ...(dataDir ? { dataDir } : {}),
    async drop() {
      await database.close();
      await drop();
    },
  };
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
