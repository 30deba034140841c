import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../../test/fake-openai.ts';
import { AppError } from '../errors.ts';
import { createEmbedder } from './embedders.ts';
import { retryAfterMs } from './retry.ts';

describe('openai embedder against a local server that speaks the embeddings API', () => {
  let fake: FakeOpenAi;
  const settings = () => ({
    openai: { apiKey: 'test-key', baseUrl: fake.url },
    endpoints: [],
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 200 },
  });
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

  it('refuses at start a model whose vectors are longer than the index takes, naming the setting that helps', async () => {
    const large = await startFakeOpenAi(3072);
    try {
      await expect(
        createEmbedder('openai:bge-huge', { ...settings(), openai: { apiKey: 'test-key', baseUrl: large.url } }),
      ).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/3072 dimensions.*EMBEDDING_DIMENSIONS/) });
    } finally {
      await large.close();
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

describe('an embedding model on an endpoint of MODEL_ENDPOINTS (<endpoint>:<model>)', () => {
  const retry = { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 };
  // The OpenAI settings point elsewhere: an endpoint model must never reach them.
  const openai = { apiKey: 'sk-not-for-endpoints', baseUrl: 'http://127.0.0.1:9/v1' };

  it('sends no Authorization header to an endpoint without a key, and learns the dimensions from a first answer', async () => {
    const ollama = await startFakeOpenAi(768, { keyless: true });
    try {
      const embedder = await createEmbedder('ollama:nomic-embed-text:v1.5', {
        openai,
        endpoints: [{ name: 'ollama', baseUrl: ollama.url }],
        retry,
      });
      expect(embedder).toMatchObject({ name: 'ollama:nomic-embed-text:v1.5', dimensions: 768 });
      const vectors = await embedder.embed(['tide tables', 'harbour charts']);
      expect(vectors.map((v) => v.length)).toEqual([768, 768]);
      expect(ollama.requests.map((r) => r.model)).toEqual(['nomic-embed-text:v1.5', 'nomic-embed-text:v1.5']);
      expect(ollama.requests.at(-1)?.input).toEqual(['tide tables', 'harbour charts']);
      expect(ollama.authorizations).toEqual([undefined, undefined]);
    } finally {
      await ollama.close();
    }
  });

  it("sends the endpoint's key, and takes EMBEDDING_DIMENSIONS instead of asking", async () => {
    const vllm = await startFakeOpenAi(1024);
    try {
      const embedder = await createEmbedder('vllm:bge-m3', {
        openai,
        endpoints: [{ name: 'vllm', baseUrl: vllm.url, apiKey: 'test-key' }],
        dimensions: 1024,
        retry,
      });
      expect(embedder).toMatchObject({ name: 'vllm:bge-m3', dimensions: 1024 });
      expect(vllm.requests).toHaveLength(0);
      const [vector] = await embedder.embed(['glacier retreat']);
      expect(vector).toHaveLength(1024);
      expect(vllm.requests).toEqual([{ model: 'bge-m3', input: ['glacier retreat'] }]);
      expect(vllm.authorizations).toEqual(['Bearer test-key']);
    } finally {
      await vllm.close();
    }
  });

  it('refuses an endpoint that is not in MODEL_ENDPOINTS with CONFIG_INVALID, naming it', async () => {
    const error = await createEmbedder('ollama:nomic-embed-text', { openai, endpoints: [], retry }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
    expect((error as AppError).message).toMatch(/no provider "ollama".*MODEL_ENDPOINTS as ollama=<base URL>/);
  });
});
