import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../../test/fake-openai.ts';
import { AppError } from '../errors.ts';
import { createEmbedder } from './embedders.ts';
import { retryAfterMs } from './retry.ts';

describe('openai embedder against a local server that speaks the embeddings API', () => {
  let fake: FakeOpenAi;
  const settings = () => ({ openai: { apiKey: 'test-key', baseUrl: fake.url }, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 200 } });
  beforeAll(async () => {
    fake = await startFakeOpenAi();
  });
  afterAll(() => fake.close());

  it('embeds a batch at 1536 dimensions', async () => {
    const embedder = await createEmbedder('openai:text-embedding-3-small', settings());
    expect(embedder.dimensions).toBe(1536);
    const vectors = await embedder.embed(['first text', 'second text']);
    expect(vectors.map((v) => v.length)).toEqual([1536, 1536]);
    expect(fake.requests.at(-1)).toEqual({ model: 'text-embedding-3-small', input: ['first text', 'second text'] });
  });

  it('asks an unknown model for its dimensions', async () => {
    const small = await startFakeOpenAi(768);
    try {
      const embedder = await createEmbedder('openai:nomic-embed-text', {
        ...settings(),
        openai: { apiKey: 'test-key', baseUrl: small.url },
      });
      expect(embedder.dimensions).toBe(768);
    } finally {
      await small.close();
    }
  });

  it('retries 429 and 5xx, honouring Retry-After', async () => {
    const embedder = await createEmbedder('openai:text-embedding-ada-002', settings());
    fake.failures.push({ status: 429, headers: { 'retry-after': '0.05' } }, { status: 503 });
    const before = fake.requests.length;
    const started = Date.now();
    const [vector] = await embedder.embed(['retry me']);
    expect(vector).toHaveLength(1536);
    expect(fake.requests.length - before).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('gives up after the last attempt with EMBEDDING_API_ERROR', async () => {
    const embedder = await createEmbedder('openai:text-embedding-3-small', settings());
    fake.alwaysFail = 500;
    const before = fake.requests.length;
    try {
      const error = await embedder.embed(['never']).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('EMBEDDING_API_ERROR');
      expect(fake.requests.length - before).toBe(3);
    } finally {
      fake.alwaysFail = undefined;
    }
  });

  it('does not retry a request the server refuses (400, 401)', async () => {
    const embedder = await createEmbedder('openai:text-embedding-3-small', {
      ...settings(),
      openai: { apiKey: 'wrong', baseUrl: fake.url },
    });
    const error = await embedder.embed(['x']).catch((e: unknown) => e);
    expect((error as AppError).code).toBe('EMBEDDING_API_ERROR');
    expect((error as AppError).message).toMatch(/401/);
  });

  it('reads Retry-After as seconds, as a date, and retry-after-ms', () => {
    expect(retryAfterMs({ 'retry-after': '2' })).toBe(2000);
    expect(retryAfterMs({ 'retry-after-ms': '150' })).toBe(150);
    expect(retryAfterMs({ 'retry-after': new Date(10_000).toUTCString() }, 4000)).toBe(6000);
    expect(retryAfterMs({})).toBeUndefined();
  });

  it('refuses a name that is not provider:model, and an openai model without a key', async () => {
    await expect(createEmbedder('hashing', settings())).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(
      createEmbedder('openai:text-embedding-3-small', { ...settings(), openai: { apiKey: undefined, baseUrl: undefined } }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
