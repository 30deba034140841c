import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseDriver } from '../database/index.ts';
import { createTestApp, type TestApp } from '../../test/test-app.ts';
import { KnowledgeSearch, type SearchMode } from './knowledge-search.ts';

// Every search path on every database: the embedded one, PostgreSQL with the pgvector it has
// (0.8+: iterative scans), and PostgreSQL taking the path for pgvector below 0.8 (over-fetch, no
// iterative scan), which the test server's newer pgvector runs when told it lacks the capability.
const paths: { name: string; driver: DatabaseDriver; iterativeScan?: boolean }[] = [
  { name: 'pglite', driver: 'pglite' },
  { name: 'postgres', driver: 'postgres' },
  { name: 'postgres without iterative scans (pgvector < 0.8)', driver: 'postgres', iterativeScan: false },
];

const modes: SearchMode[] = ['vector', 'keyword', 'hybrid'];

describe.each(paths)('vector, keyword and hybrid search on $name', ({ driver, iterativeScan }) => {
  let t: TestApp;
  let search: KnowledgeSearch;
  let otherUserId: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await createTestApp(driver);
    search = new KnowledgeSearch(t.runtime.database, t.runtime.knowledge, iterativeScan === undefined ? {} : { iterativeScan });
    const add = async (userId: string, title: string, text: string, extra: { tags?: string[]; source?: string } = {}) =>
      (await t.runtime.knowledge.create(userId, { bytes: Buffer.from(text), title, ...extra })).document.id;
    otherUserId = (await t.runtime.users.create({ email: 'crowd@example.test' }, { userId: null, ip: null })).user.id;
    ids.kayak = await add(t.userId, 'Kayaks', 'A sea kayak tracks straight thanks to its long waterline and a skeg.', {
      tags: ['outdoors', 'water'],
      source: 'notebook',
    });
    ids.bees = await add(t.userId, 'Bees', 'Beekeepers smoke the hive entrance before opening the brood box.', { tags: ['outdoors'] });
    ids.bread = await add(t.userId, 'Bread', 'Sourdough bread rises with a wild yeast starter fed flour and water.', {
      tags: ['kitchen'],
      source: 'notebook',
    });
    // Another user's many chunks crowd the nearest-neighbour index around every query below.
    const crowd = Array.from(
      { length: 600 },
      (_, i) => `Sea kayak waterline, beekeepers smoking the hive, sourdough starter, note ${i}.`,
    ).join('\n\n');
    await t.runtime.knowledge.create(otherUserId, { bytes: Buffer.from(crowd), title: 'Crowd', chunkSize: 50, overlap: 0 });
    await t.runtime.knowledge.idle();
  }, 120_000);
  afterAll(() => t.close());

  it.each(modes)('%s search ranks the matching document first and finds only its user’s', async (mode) => {
    const { results } = await search.search(t.userId, { query: 'sea kayak skeg waterline', limit: 3, threshold: 0, mode });
    expect(results[0]).toMatchObject({ documentId: ids.kayak, title: 'Kayaks' });
    expect(results[0]!.similarity).toBeGreaterThan(0.2);
    expect(results[0]!.similarity).toBeLessThanOrEqual(1);
    expect(results.every((r) => Object.values(ids).includes(r.documentId))).toBe(true);
  });

  it.each(modes)('%s search fills its limit from its user’s few chunks while another user’s crowd the index', async (mode) => {
    const query = mode === 'keyword' ? 'kayak hive sourdough' : 'sea kayak waterline beekeepers hive sourdough starter';
    const { results } = await search.search(t.userId, { query, limit: 3, threshold: 0, mode });
    expect(new Set(results.map((r) => r.documentId))).toEqual(new Set([ids.kayak, ids.bees, ids.bread]));
    const crowded = await search.search(otherUserId, { query, limit: 5, threshold: 0, mode });
    expect(crowded.results).toHaveLength(5);
    expect(crowded.results.every((r) => r.title === 'Crowd')).toBe(true);
  });

  it.each(modes)('%s search keeps to the tags, documents and source asked for', async (mode) => {
    const query = 'sea kayak waterline beekeepers hive sourdough starter';
    const found = async (filters: Parameters<KnowledgeSearch['search']>[1]['filters']) =>
      new Set((await search.search(t.userId, { query, limit: 10, threshold: 0, mode, filters })).results.map((r) => r.documentId));
    expect(await found({ tags: ['outdoors'] })).toEqual(new Set([ids.kayak, ids.bees]));
    expect(await found({ tags: ['outdoors', 'water'] })).toEqual(new Set([ids.kayak]));
    expect(await found({ documentIds: [ids.bread!] })).toEqual(new Set([ids.bread]));
    expect(await found({ source: 'notebook' })).toEqual(new Set([ids.kayak, ids.bread]));
  });
});
