import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../../test/test-app.ts';

/** A compatible server's GET /v1/models, as Ollama (ids only) and vLLM (with max_model_len) answer it. */
async function startModelList(data: unknown[]) {
  const seen: Array<string | undefined> = [];
  const server = http.createServer((request, response) => {
    seen.push(request.headers.authorization);
    if (request.method !== 'GET' || request.url !== '/v1/models') return response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return { url, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('GET /v1/models', () => {
  let t: TestApp;
  let ollama: Awaited<ReturnType<typeof startModelList>>;
  let vllm: Awaited<ReturnType<typeof startModelList>>;
  beforeAll(async () => {
    ollama = await startModelList([{ id: 'llama3.1:8b', object: 'model', owned_by: 'library' }]);
    vllm = await startModelList([{ id: 'qwen2.5-72b', object: 'model', max_model_len: 32768 }]);
    const gone = await startModelList([]);
    await gone.close();
    const prices = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-prices-')), 'prices.yaml');
    fs.writeFileSync(prices, 'prices:\n  ollama:*: { input: 0, output: 0 }\n');
    t = await createTestApp('pglite', {
      ANTHROPIC_API_KEY: 'sk-ant-test',
      MODEL_ENDPOINTS: `ollama=${ollama.url},vllm=${vllm.url},gone=${gone.url}`,
      MODEL_ENDPOINT_KEYS: 'vllm=vllm-key',
      // The model servers' health checks also ask for the lists: off here, so each request is the route's own.
      MODEL_HEALTH_INTERVAL_MS: '0',
      MODEL_PRICES: prices,
      DEFAULT_MODEL_PRICE: '1/2',
    });
  });
  afterAll(async () => {
    await t?.close();
    await ollama?.close();
    await vllm?.close();
  });

  const list = async () => {
    const response = await t.app.inject({ method: 'GET', url: '/v1/models', headers: bearer(t.userToken) });
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as {
      defaultModel: string;
      providers: Array<{ provider: string; status: string; error: string | null; models: Array<Record<string, unknown>> }>;
    };
  };

  it("lists the configured vendors' known models and each endpoint's own, priced, with an unreachable endpoint shown as such", async () => {
    const listing = await list();
    expect(listing.defaultModel).toBe('local:offline');
    expect(listing.providers.map((p) => [p.provider, p.status])).toEqual([
      ['local', 'ok'],
      ['anthropic', 'ok'],
      ['ollama', 'ok'],
      ['vllm', 'ok'],
      ['gone', 'unreachable'],
    ]);
    const [local, anthropic, ollamaListed, vllmListed, gone] = listing.providers;
    expect(local!.models).toEqual([{ id: 'local:offline', contextWindow: null, price: { input: 0, output: 0 }, priceEstimated: false }]);
    expect(anthropic!.models).toContainEqual({
      id: 'anthropic:claude-sonnet-4-5',
      contextWindow: 200_000,
      price: { input: 3, output: 15, cachedInput: 0.3 },
      priceEstimated: false,
    });
    expect(ollamaListed!.models).toEqual([
      { id: 'ollama:llama3.1:8b', contextWindow: null, price: { input: 0, output: 0 }, priceEstimated: false },
    ]);
    expect(vllmListed!.models).toEqual([
      { id: 'vllm:qwen2.5-72b', contextWindow: 32768, price: { input: 1, output: 2 }, priceEstimated: true },
    ]);
    expect(gone).toMatchObject({ models: [], error: 'the connection failed' });
    expect(vllm.seen).toEqual(['Bearer vllm-key']);
    expect(ollama.seen).toEqual([undefined]);
  });

  it('keeps endpoint lists briefly rather than asking on every request, and needs a signed-in caller', async () => {
    await list();
    await list();
    expect(ollama.seen).toHaveLength(1);
    expect((await t.app.inject({ method: 'GET', url: '/v1/models' })).statusCode).toBe(401);
  });
});
