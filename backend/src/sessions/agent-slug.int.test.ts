import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrationRunner } from '../database/index.ts';
import { createTestDatabase, type TestDatabase } from '../../test/test-database.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

describe('agent slugs: the migration back-fills existing agents (pglite)', () => {
  let test: TestDatabase;
  beforeAll(async () => {
    test = await createTestDatabase('pglite');
  });
  afterAll(() => test.drop());

  it('gives every existing agent a unique slug from its name, and goes down and up again', async () => {
    const runner = new MigrationRunner(test.database.db);
    await runner.down('0009-integrations');
    const db = test.database.db;
    const [one, two] = await Promise.all(
      ['a@example.test', 'b@example.test'].map(
        async (email) => (await sql<{ id: string }>`insert into users (email) values (${email}) returning id`.execute(db)).rows[0]!.id,
      ),
    );
    for (const [user, name] of [
      [one, 'Support Desk'],
      [one, 'support  desk!'],
      [one, '¡¡¡'],
      [one, 'Café Helper'],
      [two, 'Support Desk'],
    ] as const) {
      await sql`insert into agents (user_id, name) values (${user}, ${name})`.execute(db);
      await new Promise((resolve) => setTimeout(resolve, 5)); // created_at decides which keeps the plain slug
    }
    await runner.up();
    const rows = await sql<{ user_id: string; name: string; slug: string; id: string }>`
      select user_id, name, slug, id from agents order by created_at`.execute(db);
    const slugs = rows.rows.map((r) => r.slug);
    expect(slugs[0]).toBe('support-desk');
    expect(slugs[1]).toBe(`support-desk-${rows.rows[1]!.id.slice(0, 8)}`);
    expect(slugs[2]).toBe('agent');
    expect(slugs[3]).toBe('caf-helper');
    expect(slugs[4]).toBe('support-desk'); // another user's: unique per user only
    await runner.down('0009-integrations');
    await runner.up();
  });
});

describe('agent slugs over HTTP (pglite)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('pglite');
  });
  afterAll(() => t.close());
  const call = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: bearer(t.userToken), ...(payload ? { payload } : {}) });

  it('makes a slug from the name, unique among your agents; keeps it on rename; takes one you choose', async () => {
    expect((await call('GET', '/v1/agents')).json().agents.map((a: { slug: string }) => a.slug)).toEqual(['assistant']);
    const first = (await call('POST', '/v1/agents', { name: 'Research Helper' })).json().agent;
    expect(first.slug).toBe('research-helper');
    expect((await call('POST', '/v1/agents', { name: 'research helper?' })).json().agent.slug).toBe('research-helper-2');
    const renamed = await call('PUT', `/v1/agents/${first.id}`, { name: 'Deep Research' });
    expect(renamed.json().agent.slug).toBe('research-helper');
    const chosen = await call('PUT', `/v1/agents/${first.id}`, { name: 'Deep Research', slug: 'deep' });
    expect(chosen.json().agent.slug).toBe('deep');
    const taken = await call('POST', '/v1/agents', { name: 'Other', slug: 'deep' });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().error).toMatchObject({ code: 'AGENT_SLUG_TAKEN', details: { slug: 'deep' } });
    const invalid = await call('POST', '/v1/agents', { name: 'Other', slug: 'Not A Slug' });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.code).toBe('VALIDATION_FAILED');
  });
});
