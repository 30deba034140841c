import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../../test/fake-openai.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import { KnowledgeBase } from './knowledge-base.ts';
import { KnowledgeSearch } from './knowledge-search.ts';

/*
 * A self-hoster's embedding model on their own OpenAI-compatible servers: EMBEDDING_MODEL names
 * `<endpoint>:<model>` of MODEL_ENDPOINTS. One endpoint has no key (a local Ollama), one has a key
 * (MODEL_ENDPOINT_KEYS); both are local servers that speak the embeddings API.
 */
describe.each(drivers)('knowledge base on an embedding model of MODEL_ENDPOINTS on %s', (driver) => {
  let t: TestApp;
  let ollama: FakeOpenAi;
  let vllm: FakeOpenAi;
  beforeAll(async () => {
    ollama = await startFakeOpenAi(768, { keyless: true });
    vllm = await startFakeOpenAi(1024);
    t = await createTestApp(driver, {
      EMBEDDING_MODEL: 'ollama:nomic-embed-text',
      MODEL_ENDPOINTS: `ollama=${ollama.url},vllm=${vllm.url}`,
      MODEL_ENDPOINT_KEYS: 'vllm=test-key',
    });
  });
  afterAll(async () => {
    await t?.close();
    await ollama.close();
    await vllm.close();
  });

  const search = (body: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/v1/knowledge/search', headers: bearer(t.userToken), payload: body });

  it('ingests and finds a document through an endpoint without a key, sending no Authorization header', async () => {
    const added = await t.app.inject({
      method: 'POST',
      url: '/v1/knowledge/documents',
      headers: bearer(t.userToken),
      payload: { title: 'Glaciers', content: 'Glacier retreat exposes bare rock.\n\nMoraines mark where the ice once stood.' },
    });
    expect(added.statusCode).toBe(202);
    await t.runtime.knowledge.idle();
    const document = (
      await t.app.inject({ method: 'GET', url: `/v1/knowledge/documents/${added.json().document.id}`, headers: bearer(t.userToken) })
    ).json().document;
    expect(document).toMatchObject({ status: 'completed', embeddingModel: 'ollama:nomic-embed-text', error: null });

    const found = await search({ query: 'glacier retreat', mode: 'vector' });
    expect(found.statusCode).toBe(200);
    expect(found.json().results[0]).toMatchObject({ documentId: document.id, title: 'Glaciers' });

    expect(await t.runtime.knowledge.models.active()).toMatchObject({ model: 'ollama:nomic-embed-text', dimensions: 768 });
    expect(ollama.requests.some((r) => r.model === 'nomic-embed-text' && r.input.some((i) => i.includes('Moraines')))).toBe(true);
    expect(ollama.requests.some((r) => r.input.includes('glacier retreat'))).toBe(true);
    expect(ollama.authorizations.length).toBeGreaterThan(2);
    expect(ollama.authorizations.every((header) => header === undefined)).toBe(true);
    expect(vllm.requests).toHaveLength(0);
  });

  it("reindexes onto an endpoint with a key, sending the endpoint's key, and ingests and finds through it", async () => {
    const errors: Error[] = [];
    const target = new KnowledgeBase({
      database: t.runtime.database,
      bus: t.runtime.events.bus,
      settings: { ...t.config.knowledge, embeddingModel: 'vllm:bge-m3' },
      onError: (error) => errors.push(error),
    });
    try {
      await target.reindex();
      await target.idle();
      expect(await target.reindexStatus()).toMatchObject({ state: 'idle', activeModel: 'vllm:bge-m3', targetModel: null });
      const { document } = await target.create(t.userId, {
        bytes: Buffer.from('Tide tables for the harbour are printed weekly.'),
        title: 'Tides',
      });
      await target.idle();
      expect((await target.get(t.userId, document.id)).embeddingModel).toBe('vllm:bge-m3');

      const searchOn = new KnowledgeSearch(t.runtime.database, target);
      const tides = await searchOn.search(t.userId, { query: 'harbour tide tables', limit: 3, threshold: 0, mode: 'vector' });
      expect(tides.results[0]).toMatchObject({ documentId: document.id, title: 'Tides' });
      const glaciers = await searchOn.search(t.userId, { query: 'glacier retreat', limit: 3, threshold: 0, mode: 'vector' });
      expect(glaciers.results[0]?.title).toBe('Glaciers');

      expect(await target.models.active()).toMatchObject({ model: 'vllm:bge-m3', dimensions: 1024 });
      expect(vllm.requests.map((r) => r.model)).toContain('bge-m3');
      expect(vllm.requests.some((r) => r.input.some((i) => i.includes('Moraines')))).toBe(true);
      expect(new Set(vllm.authorizations)).toEqual(new Set(['Bearer test-key']));
      expect(errors).toEqual([]);
    } finally {
      await target.stop();
    }
  });
});
