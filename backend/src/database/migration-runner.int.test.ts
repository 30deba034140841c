import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
      'oauth_states',
      'session_checkpoints',
      'template_versions',
      'templates',
      'tool_calls',
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
  let test: TestDatabase;

  beforeAll(async () => {
    test = await createTestDatabase('postgres', { migrate: false });
  });
  afterAll(() => test.drop());

  it('without pgvector: migrates everything else and reports the knowledge base unavailable, with the fix', async () => {
    const runner = new MigrationRunner(test.database.db);
    // This machine's PostgreSQL has no pgvector. A TEST_DATABASE_URL server with it checks the other side.
    if (await runner.vectorAvailable()) {
      await runner.up();
      const states = await new Features({ knowledgeBase: true, integrations: true, chatAutoExecute: true }, runner).states();
      expect(states.knowledgeBase.available).toBe(true);
      return;
    }
    await runner.up();
    const status = await runner.status();
    expect(status.pending).toBe(0);
    expect(status.blocked).toBe(Object.keys(vectorMigrations).length);
    expect(await tables(test)).toContain('users');

    const features = await new Features({ knowledgeBase: true, integrations: true, chatAutoExecute: true }, runner).states();
    expect(features.knowledgeBase).toMatchObject({ enabled: true, available: false });
    expect(features.knowledgeBase.reason).toMatch(/pgvector.*agentry migrate up/);
    const gate = new Features({ knowledgeBase: true, integrations: true, chatAutoExecute: true }, runner);
    await expect(gate.require('knowledgeBase')).rejects.toMatchObject({ code: 'FEATURE_UNAVAILABLE', status: 503 });
    await expect(gate.require('integrations')).resolves.toBeUndefined();
  });
});
