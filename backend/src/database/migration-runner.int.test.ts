import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, drivers, type TestDatabase } from '../../test/test-database.ts';
import { Features } from '../features.ts';
import { vectorMigrations } from '../../database/migrations/index.ts';
import { MigrationRunner } from './migration-runner.ts';

async function tables(test: TestDatabase): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_name not like 'agentry_%migrations%' order by 1`.execute(test.database.db);
  return rows.map((r) => r.name);
}

describe.each(drivers)('migrations on %s', (driver) => {
  let test: TestDatabase;
  let runner: MigrationRunner;

  beforeAll(async () => {
    test = await createTestDatabase(driver, { migrate: false });
    runner = new MigrationRunner(test.database.db);
  });
  afterAll(() => test.drop());

  it('round-trips: up, down to zero, up again', async () => {
    expect(await runner.isFresh()).toBe(true);
    const first = await runner.up();
    expect(first.applied.map((m) => m.name)).toContain('0001-accounts');
    const vectorTables = (await runner.vectorAvailable()) ? ['kb_embedding_models', 'kb_embeddings'] : [];
    const allTables = [
      'agent_sessions',
      'agents',
      'api_tokens',
      'audit_log',
      'conversations',
      'events',
      'integration_connections',
      'integration_events',
      'integration_tools',
      'kb_chunks',
      'kb_documents',
      ...vectorTables,
      'messages',
      'model_calls',
      'notifications',
      'oauth_client_registrations',
      'oauth_states',
      'sandbox_accounts',
      'sandbox_chat',
      'sandbox_events',
      'sandbox_mail',
      'session_checkpoints',
      'template_versions',
      'templates',
      'tool_approval_rules',
      'tool_approvals',
      'tool_calls',
      'trigger_firings',
      'trigger_versions',
      'triggers',
      'turns',
      'users',
    ];
    expect(await tables(test)).toEqual(allTables);
    expect((await runner.status()).pending).toBe(0);

    await runner.down('0');
    expect(await tables(test)).toEqual([]);
    expect((await runner.status()).migrations.every((m) => m.executedAt === null)).toBe(true);

    await runner.up();
    expect(await tables(test)).toEqual(allTables);
    expect(await runner.isFresh()).toBe(false);
  });

  it('reverts one step at a time, vector migrations before the core ones they build on', async () => {
    const executed = async () => (await runner.status()).migrations.filter((m) => m.executedAt).map((m) => m.name);
    const before = await executed();
    const { applied } = await runner.down();
    expect(applied).toHaveLength(1);
    expect(applied[0]?.direction).toBe('Down');
    const newestCore = before.filter((name) => !name.startsWith('v')).at(-1);
    const newestVector = before.filter((name) => name.startsWith('v')).at(-1);
    expect(applied[0]?.name).toBe(newestVector ?? newestCore);
    await runner.up();
    expect(await executed()).toEqual(before);
  });

  it('leaves the keyword index without a pending list, which every keyword search would read whole during an ingest', async () => {
    const { rows } = await sql<{
      reloptions: string[] | null;
    }>`select reloptions from pg_class where relname = 'kb_chunks_tsv_idx'`.execute(test.database.db);
    expect(rows[0]?.reloptions).toEqual(['fastupdate=off']);
  });

  it('refuses an unknown --to name', async () => {
    await expect(runner.down('9999-nope')).rejects.toThrow(/No migration is named/);
  });

  it('two runners migrating together (two connections) apply each migration once', async () => {
    await runner.down('0');
    const results = await Promise.all([runner.up(), new MigrationRunner(test.database.db).up()]);
    const names = results.flatMap((r) => r.applied.map((m) => m.name));
    expect(names.filter((n) => n === '0001-accounts')).toHaveLength(1);
    expect((await runner.status()).pending).toBe(0);
  });
});

describe('the knowledge base on a PostgreSQL server follows pgvector', () => {
  const allOn = { knowledgeBase: true, integrations: true, chatAutoExecute: true };

  it('with pgvector: migrates the knowledge base too and reports it available', async () => {
    const test = await createTestDatabase('postgres', { migrate: false });
    try {
      const runner = new MigrationRunner(test.database.db);
      expect(await runner.vectorAvailable()).toBe(true);
      await runner.up();
      expect(await runner.status()).toMatchObject({ pending: 0, blocked: 0, vectorAvailable: true });
      expect(await tables(test)).toEqual(expect.arrayContaining(['users', 'kb_embeddings', 'kb_embedding_models']));
      expect((await new Features(allOn, runner).states()).knowledgeBase).toEqual({ enabled: true, available: true });
    } finally {
      await test.drop();
    }
  });

  it('where its role may not create pgvector: migrates everything else and reports the knowledge base unavailable, with the fix', async () => {
    // The test server has pgvector's files; this database's role is no superuser, as on a managed server.
    const test = await createTestDatabase('postgres', { migrate: false, withoutPgvector: true });
    try {
      const runner = new MigrationRunner(test.database.db);
      expect(await runner.vectorAvailable()).toBe(false);
      await runner.up();
      const status = await runner.status();
      expect(status.pending).toBe(0);
      expect(status.blocked).toBe(Object.keys(vectorMigrations).length);
      expect(await tables(test)).toContain('users');
      expect(await tables(test)).not.toContain('kb_embeddings');

      const features = await new Features(allOn, runner).states();
      expect(features.knowledgeBase).toMatchObject({ enabled: true, available: false });
      expect(features.knowledgeBase.reason).toMatch(/pgvector.*create extension vector.*agentry migrate up/);
      const gate = new Features(allOn, runner);
      await expect(gate.require('knowledgeBase')).rejects.toMatchObject({ code: 'FEATURE_UNAVAILABLE', status: 503 });
      await expect(gate.require('integrations')).resolves.toBeUndefined();

      // Once an administrator creates the extension in the database, the next "migrate up" brings the knowledge base.
      const admin = await createAdminClient(test);
      await admin.query('create extension vector');
      await admin.end();
      expect(await runner.vectorAvailable()).toBe(true);
      await runner.up();
      expect(await tables(test)).toContain('kb_embeddings');
      expect((await new Features(allOn, runner).states()).knowledgeBase.available).toBe(true);
    } finally {
      await test.drop();
    }
  });
});

/** A superuser's connection to the test's own server database. */
async function createAdminClient(test: TestDatabase): Promise<pg.Client> {
  if (test.target.driver !== 'postgres') throw new Error('a server database only');
  const url = new URL(inject('postgresUrl'));
  url.pathname = new URL(test.target.url).pathname;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  return client;
}
