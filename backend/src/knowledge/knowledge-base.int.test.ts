import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../../test/fake-openai.ts';
import { createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import { KnowledgeBase } from './knowledge-base.ts';
import { KnowledgeSearch } from './knowledge-search.ts';
import { knowledgeSearchTool } from './knowledge-search-tool.ts';

const text = (topic: string) =>
  Array.from({ length: 40 }, (_, i) => `Paragraph ${i} on ${topic}: the details differ in every paragraph, number ${i * 7}.`).join('\n\n');

describe.each(drivers)('knowledge base processing on %s', (driver) => {
  let t: TestApp;
  let fake: FakeOpenAi;
  const errors: Error[] = [];
  const another = (model: string) =>
    new KnowledgeBase({
      database: t.runtime.database,
      bus: t.runtime.events.bus,
      settings: {
        ...t.config.knowledge,
        embeddingModel: model,
        embedders: {
          ...t.config.knowledge.embedders,
          openai: { apiKey: 'test-key', baseUrl: fake.url },
          retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
        },
      },
      onError: (e) => errors.push(e),
    });

  beforeAll(async () => {
    fake = await startFakeOpenAi();
    t = await createTestApp(driver);
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  it('reports every status change as a kb.document.status event', async () => {
    const { document } = await t.runtime.knowledge.create(t.userId, {
      bytes: Buffer.from(text('tidal energy')),
      title: 'Tides',
      chunkSize: 100,
      overlap: 10,
    });
    await t.runtime.knowledge.idle();
    const events = await t.runtime.events.store.history({
      userId: t.userId,
      topic: 'knowledge',
      types: ['kb.document.status'],
      limit: 100,
    });
    const statuses = events
      .filter((e) => e.type === 'kb.document.status' && e.data.documentId === document.id)
      .map((e) => (e.data as { status: string }).status);
    expect(statuses).toEqual(['pending', 'processing', 'completed']);
    const stored = await t.runtime.knowledge.get(t.userId, document.id);
    expect(stored.chunkCount).toBeGreaterThan(5);
  });

  it('offers knowledge_search to the agent runtime, bound to one user', async () => {
    const other = await t.runtime.users.create({ email: 'tool-other@example.test' }, { userId: null, ip: null });
    await t.runtime.knowledge.create(other.user.id, {
      bytes: Buffer.from('Falconry: hooding a peregrine before the hunt.'),
      title: 'Falconry',
    });
    await t.runtime.knowledge.create(t.userId, { bytes: Buffer.from('Origami cranes start from a square base fold.'), title: 'Origami' });
    await t.runtime.knowledge.idle();
    const tool = knowledgeSearchTool(t.runtime.knowledgeSearch, t.userId);
    expect(tool.name).toBe('knowledge_search');
    expect(tool.inputSchema).toMatchObject({ type: 'object', required: ['query'] });
    const mine = await tool.execute({ query: 'origami crane fold', limit: 3 });
    expect(mine.results[0]).toMatchObject({ title: 'Origami' });
    const theirs = await tool.execute({ query: 'falconry peregrine hood', limit: 20 });
    expect(theirs.results.map((r) => r.title)).not.toContain('Falconry');
    await expect(tool.execute({ query: '', limit: 1000 })).rejects.toThrow();
  });

  it('hands back the document it was processing when it stops, and the next start finishes it', async () => {
    const first = another('local:hashing');
    const { document } = await first.create(t.userId, {
      bytes: Buffer.from(text('river deltas')),
      title: 'Deltas',
      chunkSize: 50,
      overlap: 0,
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await first.stop();
    expect(['pending', 'completed']).toContain((await first.get(t.userId, document.id)).status);
    const next = another('local:hashing');
    await next.start();
    await next.idle();
    expect((await next.get(t.userId, document.id)).status).toBe('completed');
    await next.stop();
  });

  it('sweeps stored files that no document points to at start, and keeps the rest', async () => {
    const dir = t.config.knowledge.storageDir;
    const kept = fs.readdirSync(dir);
    const orphan = path.join(dir, 'orphan.v1');
    fs.writeFileSync(orphan, 'left by a crash');
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(orphan, old, old);
    const fresh = path.join(dir, '.tmp-in-flight');
    fs.writeFileSync(fresh, 'an upload on another instance');
    const restarted = another('local:hashing');
    await restarted.start();
    await restarted.stop();
    expect(fs.existsSync(orphan)).toBe(false);
    expect(fs.existsSync(fresh)).toBe(true);
    expect(
      fs
        .readdirSync(dir)
        .filter((f) => f !== '.tmp-in-flight')
        .sort(),
    ).toEqual(kept.sort());
    fs.rmSync(fresh);
  });

  it('picks up a document left processing by a crashed instance when it starts', async () => {
    const { document } = await t.runtime.knowledge.create(t.userId, { bytes: Buffer.from(text('glacier retreat')), title: 'Glaciers' });
    await t.runtime.knowledge.idle();
    // As a crash would leave it: processing, half its chunks written, its lease expired.
    await t.runtime.database.db
      .updateTable('kb_documents')
      .set({ status: 'processing', version: 2, lease_owner: 'gone', lease_expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', document.id)
      .execute();
    await t.runtime.database.db
      .insertInto('kb_chunks')
      .values({
        document_id: document.id,
        user_id: t.userId,
        version: 2,
        chunk_index: 0,
        content: 'half-written leftover',
        token_count: 3,
        char_start: 0,
        char_end: 3,
      })
      .execute();
    const restarted = another('local:hashing');
    await restarted.start();
    await restarted.idle();
    expect(await restarted.get(t.userId, document.id)).toMatchObject({ status: 'completed', version: 2, error: null });
    const chunks = await t.runtime.database.db
      .selectFrom('kb_chunks')
      .select(['version', 'content'])
      .where('document_id', '=', document.id)
      .execute();
    expect(new Set(chunks.map((c) => c.version))).toEqual(new Set([2]));
    expect(chunks.map((c) => c.content)).not.toContain('half-written leftover');
    await restarted.stop();
  });

  it('reindexes toward the configured model in the background and switches searches at once when complete', async () => {
    const oldSearch = new KnowledgeSearch(t.runtime.database, t.runtime.knowledge);
    const before = await oldSearch.search(t.userId, { query: 'glacier retreat', limit: 3, threshold: 0, mode: 'vector' });
    expect(before.results[0]?.title).toBe('Glaciers');

    const target = another('openai:text-embedding-3-small');
    const status = await target.reindex();
    expect(status).toMatchObject({ state: 'running', activeModel: 'local:hashing', targetModel: 'openai:text-embedding-3-small' });
    // While it runs, searches answer from the active model.
    expect((await oldSearch.search(t.userId, { query: 'glacier retreat', limit: 3, threshold: 0, mode: 'vector' })).results[0]?.title).toBe(
      'Glaciers',
    );
    await target.idle();
    expect(await target.reindexStatus()).toMatchObject({ state: 'idle', activeModel: 'openai:text-embedding-3-small', targetModel: null });
    expect(fake.requests.some((r) => r.input.some((i) => i.includes('glacier retreat')))).toBe(true);

    const models = await t.runtime.database.db.selectFrom('kb_embeddings').select('model').distinct().execute();
    expect(models.map((m) => m.model)).toEqual(['openai:text-embedding-3-small']);
    const after = await new KnowledgeSearch(t.runtime.database, target).search(t.userId, {
      query: 'glacier retreat',
      limit: 3,
      threshold: 0,
      mode: 'vector',
    });
    expect(after.results[0]?.title).toBe('Glaciers');
    expect((await target.get(t.userId, after.results[0]!.documentId)).embeddingModel).toBe('openai:text-embedding-3-small');
    await target.stop();
    expect(errors).toEqual([]);
  });

  it('fails a document with EMBEDDING_API_ERROR when the embedding service keeps failing, and keeps no chunks of it', async () => {
    // After the reindex above, the OpenAI-compatible model is the active one.
    const knowledge = another('openai:text-embedding-3-small');
    fake.alwaysFail = 503;
    try {
      const { document } = await knowledge.create(t.userId, {
        bytes: Buffer.from('Coral reefs bleach when the water warms.'),
        title: 'Reefs',
      });
      await knowledge.idle();
      const failed = await knowledge.get(t.userId, document.id);
      expect(failed.status).toBe('failed');
      expect(failed.error?.code).toBe('EMBEDDING_API_ERROR');
      const chunks = await t.runtime.database.db.selectFrom('kb_chunks').select('id').where('document_id', '=', document.id).execute();
      expect(chunks).toHaveLength(0);
    } finally {
      fake.alwaysFail = undefined;
      await knowledge.stop();
    }
  });

  it("processes another user's document while one user's waits on a slow embedding service", async () => {
    const knowledge = another('openai:text-embedding-3-small');
    // After the reindex above, the OpenAI-compatible model (the fake, which can be slow) is the active one.
    expect((await knowledge.models.active())?.model).toBe('openai:text-embedding-3-small');
    const bystander = await t.runtime.users.create({ email: 'bystander@example.test' }, { userId: null, ip: null });
    fake.slow = { text: 'Glacial', ms: 3000 };
    try {
      const slow = await knowledge.create(t.userId, {
        bytes: Buffer.from('Glacial erosion carves U-shaped valleys over millennia.'),
        title: 'Slow',
      });
      const started = performance.now();
      const quick = await knowledge.create(bystander.user.id, {
        bytes: Buffer.from('Tide tables for the harbour, printed weekly'),
        title: 'Quick',
      });
      while ((await knowledge.get(bystander.user.id, quick.document.id)).status !== 'completed') {
        expect(performance.now() - started).toBeLessThan(2000);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect((await knowledge.get(t.userId, slow.document.id)).status).toBe('processing');
      await knowledge.idle();
      expect((await knowledge.get(t.userId, slow.document.id)).status).toBe('completed');
    } finally {
      fake.slow = undefined;
      await knowledge.stop();
    }
  });

  it('finishes a reindex when a document is deleted while its chunks are being embedded', async () => {
    // Stored with the active model (the one the tests above switched to), so it has chunks to reindex.
    const active = another((await t.runtime.knowledge.models.active())!.model);
    const { document } = await active.create(t.userId, {
      bytes: Buffer.from('Kestrels hover over verges, hunting voles.'),
      title: 'Kestrels',
    });
    await active.idle();
    await active.stop();
    expect((await t.runtime.knowledge.get(t.userId, document.id)).status).toBe('completed');
    fake.slow = { text: 'Kestrels', ms: 500 };
    const target = another('openai:text-embedding-ada-002');
    try {
      await target.reindex();
      // The batch holding the document's chunk is at the embedding service: delete the document meanwhile.
      const reached = () => fake.requests.some((r) => r.model === 'text-embedding-ada-002' && r.input.some((i) => i.includes('Kestrels')));
      await expect.poll(reached, { timeout: 15_000, interval: 10 }).toBe(true);
      await t.runtime.knowledge.delete(t.userId, document.id);
      await target.idle();
      expect(await target.reindexStatus()).toMatchObject({
        state: 'idle',
        activeModel: 'openai:text-embedding-ada-002',
        targetModel: null,
      });
      expect(errors).toEqual([]);
    } finally {
      fake.slow = undefined;
      await target.stop();
    }
  });
});
