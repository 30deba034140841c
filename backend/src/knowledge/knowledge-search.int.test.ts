import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hnswRecallAtScale from '../../database/migrations/vector/v0005-hnsw-recall-at-scale.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import { EmbeddingModels } from './embedding-models.ts';
import { KnowledgeSearch } from './knowledge-search.ts';

describe.each(drivers)('knowledge search at scale (%s)', (driver) => {
  let t: TestApp;
  const add = async (title: string, content: string) =>
    (await t.runtime.knowledge.create(t.userId, { bytes: Buffer.from(content), title, fileName: `${title}.txt` })).document.id;
  const search = (body: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/v1/knowledge/search', headers: bearer(t.userToken), payload: body });

  beforeAll(async () => {
    t = await createTestApp(driver);
    // Twenty chunks dense with a common word, one with a rare word, three about lighthouses.
    for (let i = 0; i < 20; i++)
      await add(`Report ${i}`, `Quarterly report ${i}. The report lists report figures, report totals and report notes.`);
    await add('Zeppelin', 'The zeppelin report arrived late.');
    for (const name of ['Keeper', 'Lamp', 'Coast']) await add(name, `${name} of the lighthouse on the northern cape.`);
    await t.runtime.knowledge.idle();
    // As the knowledge base does after enough writes: the planner's statistics, word frequencies included.
    await sql`analyze kb_documents, kb_chunks`.execute(t.runtime.database.db);
  }, 60_000);
  afterAll(() => t.close());

  it('ranks the chunks holding the rarer words of a query when the common ones match too much', async () => {
    // A budget of 5 of these 24 chunks stands for the default's 1,000 in a large knowledge base.
    const bounded = new KnowledgeSearch(t.runtime.database, t.runtime.knowledge, { candidateBudget: 5 });
    for (const mode of ['keyword', 'hybrid'] as const) {
      const { results } = await bounded.search(t.userId, { query: 'report zeppelin', limit: 3, threshold: 0, mode });
      expect(results[0]?.title, mode).toBe('Zeppelin');
    }
    // Words that together match few chunks are all looked up: nothing is left out.
    const { results } = await bounded.search(t.userId, { query: 'zeppelin lighthouse', limit: 10, threshold: 0, mode: 'keyword' });
    expect(results.map((r) => r.title).sort()).toEqual(['Coast', 'Keeper', 'Lamp', 'Zeppelin']);
  });

  it('finds the chunks holding every word of a query whose every word matches too much, wherever they are stored', async () => {
    const reader = (await t.runtime.users.create({ email: `common-words-${driver}@example.test` }, { userId: null, ip: null })).user.id;
    // Stored first: thirty chunks with one of the two words each. Stored last: the one with both.
    for (let i = 0; i < 30; i++)
      await t.runtime.knowledge.create(reader, {
        bytes: Buffer.from(i % 2 ? `The harbour ${i} was quiet.` : `The ledger ${i} was closed.`),
        title: `One word ${i}`,
      });
    await t.runtime.knowledge.create(reader, { bytes: Buffer.from('The harbour ledger lists every ship.'), title: 'Both words' });
    await t.runtime.knowledge.idle();
    await sql`analyze kb_documents, kb_chunks`.execute(t.runtime.database.db);
    // A budget of 2 (4 ranked) where each word matches 16 chunks: only the chunks holding both can be ranked first.
    const bounded = new KnowledgeSearch(t.runtime.database, t.runtime.knowledge, { candidateBudget: 2 });
    const { results } = await bounded.search(reader, { query: 'harbour ledger', limit: 5, threshold: 0, mode: 'keyword' });
    expect(results[0]?.title).toBe('Both words');
    // The candidates are filled up with chunks holding either word.
    expect(results).toHaveLength(4);
  });

  it('says whether more passages match than the limit returned', async () => {
    for (const mode of ['keyword', 'hybrid', 'vector'] as const) {
      const two = await search({ query: 'lighthouse', mode, limit: 2 });
      expect(two.statusCode).toBe(200);
      expect(two.json()).toMatchObject({ hasMore: true });
      expect(two.json().results).toHaveLength(2);
    }
    const all = await search({ query: 'lighthouse', mode: 'keyword', limit: 3 });
    expect(all.json()).toMatchObject({ hasMore: false });
    expect(all.json().results).toHaveLength(3);
    // Above a threshold no passage reaches, nothing more matches either.
    const none = await search({ query: 'lighthouse', mode: 'vector', limit: 2, threshold: 1 });
    expect(none.json()).toEqual({ results: [], hasMore: false });
  });

  it('fills the page with keyword matches above the threshold when better-ranked matches fall below it', async () => {
    const reader = (await t.runtime.users.create({ email: `threshold-${driver}@example.test` }, { userId: null, ip: null })).user.id;
    const filler = Array.from({ length: 120 }, (_, i) => `word${i}x`).join(' ');
    // Ranked first by text rank (the word five times), but far from the query's vector.
    for (let i = 0; i < 4; i++)
      await t.runtime.knowledge.create(reader, {
        bytes: Buffer.from(`Beacon ${i}: beacon beacon beacon beacon. ${filler} ${i}`),
        title: `Noisy ${i}`,
      });
    for (let i = 0; i < 3; i++)
      await t.runtime.knowledge.create(reader, { bytes: Buffer.from(`The beacon glows ${i}.`), title: `Plain ${i}` });
    await t.runtime.knowledge.idle();
    const keyword = (limit: number, threshold: number) =>
      t.runtime.knowledgeSearch.search(reader, { query: 'beacon', limit, threshold, mode: 'keyword' });
    // At threshold 0 the noisy chunks (similarity about 0.13) rank above the plain ones (about 0.58).
    expect((await keyword(4, 0)).results.map((r) => r.title.split(' ')[0])).toEqual(['Noisy', 'Noisy', 'Noisy', 'Noisy']);
    const two = await keyword(2, 0.3);
    expect(two.results.map((r) => r.title.split(' ')[0])).toEqual(['Plain', 'Plain']);
    expect(two.hasMore).toBe(true);
    const three = await keyword(3, 0.3);
    expect(three.results).toHaveLength(3);
    expect(three.results.every((r) => r.similarity >= 0.3)).toBe(true);
    expect(three.hasMore).toBe(false);
  });

  it('keeps to documents created within dateRange', async () => {
    const old = await add('Archive', 'An archived note on the lighthouse beam.');
    await t.runtime.knowledge.idle();
    await sql`update kb_documents set created_at = '2020-06-15T12:00:00Z' where id = ${old}`.execute(t.runtime.database.db);
    const titles = async (dateRange: Record<string, string>, mode: string) =>
      ((await search({ query: 'lighthouse', mode, limit: 10, filters: { dateRange } })).json().results as Array<{ title: string }>)
        .map((r) => r.title)
        .sort();
    for (const mode of ['keyword', 'hybrid', 'vector']) {
      expect(await titles({ start: '2020-06-01T00:00:00Z', end: '2020-06-30T23:59:59Z' }, mode), mode).toEqual(['Archive']);
      expect(await titles({ end: '2020-06-15T12:00:00+00:00' }, mode), mode).toEqual(['Archive']);
      expect(await titles({ start: '2020-06-15T12:00:00.001Z' }, mode), mode).not.toContain('Archive');
      expect(await titles({ start: '2021-01-01T00:00:00Z' }, mode), mode).toEqual(expect.arrayContaining(['Coast', 'Keeper', 'Lamp']));
    }
    await t.runtime.knowledge.delete(t.userId, old);
  });

  it('builds the HNSW index with the parameters chosen for recall and insert speed, on new models and on upgrade', async () => {
    const model = (await t.runtime.knowledge.models.active())!.model;
    const options = async () =>
      (
        await sql<{
          reloptions: string[] | null;
        }>`select reloptions from pg_class where relname = ${EmbeddingModels.indexName(model)}`.execute(t.runtime.database.db)
      ).rows[0]?.reloptions;
    expect(await options()).toEqual(['m=20', 'ef_construction=200']);
    const db = t.runtime.database.db as unknown as Kysely<unknown>;
    await hnswRecallAtScale.down(db);
    expect(await options()).toEqual(['m=16', 'ef_construction=64']);
    await hnswRecallAtScale.up(db);
    expect(await options()).toEqual(['m=20', 'ef_construction=200']);
    const { results } = await t.runtime.knowledgeSearch.search(t.userId, { query: 'lighthouse', limit: 3, threshold: 0, mode: 'vector' });
    expect(results).toHaveLength(3);
  });
});
