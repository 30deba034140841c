import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

/** A model server's models list that can go down and come back on the same port. */
async function startModelsList() {
  const requests: Array<{ url: string | undefined; authorization: string | undefined }> = [];
  const server = http.createServer((request, response) => {
    requests.push({ url: request.url, authorization: request.headers.authorization });
    if (request.method === 'GET' && request.url === '/v1/models') {
      response.writeHead(200, { 'content-type': 'application/json' });
      return response.end(JSON.stringify({ object: 'list', data: [{ id: 'llama3', object: 'model' }] }));
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    down: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    up: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
  };
}

const intervalMs = 150;

type Named = { name: string; status: string };
type HealthBody = { models: { default: Named; embedding: Named; providers: Named[] } };

describe('health of the model servers', () => {
  let t: TestApp;
  let models: Awaited<ReturnType<typeof startModelsList>>;

  beforeAll(async () => {
    models = await startModelsList();
    t = await createTestApp('pglite', {
      MODEL_ENDPOINTS: `ollama=${models.url}`,
      MODEL_ENDPOINT_KEYS: 'ollama=sk-local-key',
      DEFAULT_MODEL: 'ollama:llama3',
      EMBEDDING_MODEL: 'ollama:nomic-embed-text',
      EMBEDDING_DIMENSIONS: '768',
      MODEL_HEALTH_INTERVAL_MS: String(intervalMs),
      MODEL_HEALTH_TIMEOUT_MS: '1000',
    });
  });
  afterAll(async () => {
    await t?.close();
    await models?.down().catch(() => undefined);
  });

  async function health() {
    const response = await t.app.inject({ method: 'GET', url: '/health' });
    return { status: response.statusCode, body: response.json<HealthBody>(), text: response.body };
  }

  /** Polls /health until `expected` holds, for at most a few check intervals. */
  async function healthWhen(expected: (body: HealthBody) => boolean) {
    const deadline = Date.now() + intervalMs * 20;
    for (;;) {
      const { body } = await health();
      if (expected(body) || Date.now() > deadline) return body;
      await new Promise((resolve) => setTimeout(resolve, intervalMs / 3));
    }
  }

  it('reports each model server by name, follows one that goes down and comes back, and keeps /ready about the database', async () => {
    const up = await healthWhen((b) => b.models.default.status === 'ok' && b.models.embedding.status === 'ok');
    expect(up.models).toEqual({
      default: { name: 'ollama:llama3', status: 'ok' },
      embedding: { name: 'ollama:nomic-embed-text', status: 'ok' },
      providers: [
        { name: 'local', status: 'ok' },
        { name: 'ollama', status: 'ok' },
      ],
    });
    // A models list, with the endpoint's key, is all a check costs: no generation.
    expect(models.requests.every((r) => r.url === '/v1/models' && r.authorization === 'Bearer sk-local-key')).toBe(true);

    await models.down();
    const down = await healthWhen((b) => b.models.default.status === 'down');
    expect(down.models.default.status).toBe('down');
    expect(down.models.embedding.status).toBe('down');
    expect(down.models.providers).toContainEqual({ name: 'local', status: 'ok' });
    const { status, text } = await health();
    expect(status).toBe(200);
    expect(text).not.toContain('127.0.0.1'); // hosts are for admins only
    const ready = await t.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ready: true });

    const details = await t.app.inject({ method: 'GET', url: '/v1/admin/health', headers: bearer(t.adminToken) });
    expect(details.statusCode).toBe(200);
    const ollama = details.json().models.find((m: { name: string }) => m.name === 'ollama');
    expect(ollama).toMatchObject({ kind: 'provider', status: 'down', url: `${models.url}/models` });
    expect(ollama.error).toMatch(/ECONNREFUSED|fetch failed/);
    expect(typeof ollama.lastCheckedAt).toBe('string');
    expect(details.json().checkIntervalMs).toBe(intervalMs);

    await models.up();
    const back = await healthWhen((b) => b.models.default.status === 'ok' && b.models.embedding.status === 'ok');
    expect(back.models.default.status).toBe('ok');
    expect(back.models.embedding.status).toBe('ok');
  });

  it('gives the details to admins only', async () => {
    const asUser = await t.app.inject({ method: 'GET', url: '/v1/admin/health', headers: bearer(t.userToken) });
    expect(asUser.statusCode).toBe(403);
    expect(asUser.json().error.code).toBe('FORBIDDEN');
    const anonymous = await t.app.inject({ method: 'GET', url: '/v1/admin/health' });
    expect(anonymous.statusCode).toBe(401);
  });
});
