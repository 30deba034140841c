import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';

describe.each(drivers)('the HTTP API on %s', (driver) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(driver, { BODY_LIMIT_BYTES: '4096', RATE_LIMIT_DEFAULT: '40' });
  });
  afterAll(() => t.close());

  const expectError = (
    response: { statusCode: number; json(): { error: { code: string; message: string } } },
    status: number,
    code: string,
  ) => {
    expect(response.statusCode).toBe(status);
    const body = response.json();
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(10);
  };

  it('reports health: driver, database, migrations, features, version', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      status: 'ok',
      database: { driver, ok: true },
      migrations: { pending: 0 },
      features: { integrations: { enabled: true, available: true } },
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    // The embedded database always has pgvector; this machine's PostgreSQL has not.
    // Both test databases have pgvector (knowledge-routes.int.test.ts covers a database without it).
    expect(response.json().features.knowledgeBase.available).toBe(true);
    expect((await t.app.inject({ method: 'GET', url: '/ready' })).json()).toEqual({ ready: true });
  });

  describe('bad input gets a 4xx with a stable code, changes nothing, and the server stays healthy', () => {
    const post = (payload: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
      t.app.inject({ method: 'POST', url: '/v1/users', headers: { ...bearer(t.adminToken), ...headers }, payload });

    it.each([
      ['malformed JSON', () => post('{"email": "a@example.test",'), 400, 'INVALID_JSON'],
      ['an empty JSON body', () => post(''), 400, 'INVALID_JSON'],
      [
        'a wrong content type',
        () => post('email=a@example.test', { 'content-type': 'application/x-www-form-urlencoded' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      ['an oversized body', () => post(JSON.stringify({ email: 'big@example.test', name: 'x'.repeat(8000) })), 413, 'PAYLOAD_TOO_LARGE'],
      ['a "__proto__" key', () => post('{"email":"p@example.test","__proto__":{"admin":true}}'), 400, 'FORBIDDEN_KEY'],
      ['a "constructor" key', () => post('{"email":"c@example.test","constructor":{"prototype":{"admin":true}}}'), 400, 'FORBIDDEN_KEY'],
      ['an unknown field', () => post('{"email":"u@example.test","isAdmin":true}'), 400, 'VALIDATION_FAILED'],
      ['a bad email', () => post('{"email":"not-an-email"}'), 400, 'VALIDATION_FAILED'],
      ['a JSON array', () => post('[1,2,3]'), 400, 'VALIDATION_FAILED'],
    ])('%s', async (_name, send, status, code) => {
      expectError(await send(), status, code);
      const users = await t.runtime.database.db.selectFrom('users').select('email').execute();
      expect(users.map((u) => u.email).sort()).toEqual(['admin@example.test', 'user@example.test']);
      expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    });

    it('a JSON body on a route that takes none', async () => {
      const get = await t.app.inject({
        method: 'GET',
        url: '/v1/me',
        headers: { ...bearer(t.userToken), 'content-type': 'application/json' },
        payload: '{"a":1}',
      });
      expectError(get, 400, 'BODY_NOT_ALLOWED');
      const tokens = await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(t.userToken) });
      const id = tokens.json().tokens[0].id as string;
      const del = await t.app.inject({
        method: 'DELETE',
        url: `/v1/tokens/${id}`,
        headers: { ...bearer(t.userToken), 'content-type': 'application/json' },
        payload: '{"force":true}',
      });
      expectError(del, 400, 'BODY_NOT_ALLOWED');
      expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(t.userToken) })).statusCode).toBe(200);
    });

    it('an unknown route answers 404 NOT_FOUND, with or without a token', async () => {
      expectError(await t.app.inject({ method: 'GET', url: '/v1/nope' }), 404, 'NOT_FOUND');
      expectError(await t.app.inject({ method: 'GET', url: '/v1/nope', headers: bearer(t.userToken) }), 404, 'NOT_FOUND');
    });

    it('a malformed URL answers in the same error format', async () => {
      const response = await t.app.inject({ method: 'GET', url: '/v1/me%zz', headers: bearer(t.userToken) });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('VALIDATION_FAILED');
      expect(response.headers['x-request-id']).toBeDefined();
    });

    it('an out-of-range page cursor answers 400, not 500', async () => {
      expectError(
        await t.app.inject({ method: 'GET', url: '/v1/audit?before=9999999999999999999', headers: bearer(t.adminToken) }),
        400,
        'VALIDATION_FAILED',
      );
    });

    it('a malformed id in a path answers 400 with the field named', async () => {
      const response = await t.app.inject({ method: 'DELETE', url: '/v1/tokens/not-a-uuid', headers: bearer(t.userToken) });
      expectError(response, 400, 'VALIDATION_FAILED');
      expect(response.json().error.details.issues[0].path).toBe('params.id');
    });
  });

  it('creates users (admin), lists them by page, and lets a user change their own profile', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/users',
      headers: bearer(t.adminToken),
      payload: { email: 'Zed@Example.test', name: 'Zed', timezone: 'Europe/Berlin' },
    });
    expect(created.statusCode).toBe(201);
    const { user, token } = created.json();
    expect(user).toMatchObject({ email: 'Zed@Example.test', timezone: 'Europe/Berlin', admin: false });
    expectError(
      await t.app.inject({ method: 'POST', url: '/v1/users', headers: bearer(t.adminToken), payload: { email: 'zed@example.test' } }),
      409,
      'EMAIL_TAKEN',
    );

    const page1 = (await t.app.inject({ method: 'GET', url: '/v1/users?limit=2', headers: bearer(t.adminToken) })).json();
    expect(page1.users).toHaveLength(2);
    const page2 = (
      await t.app.inject({ method: 'GET', url: `/v1/users?limit=2&after=${encodeURIComponent(page1.next)}`, headers: bearer(t.adminToken) })
    ).json();
    expect([...page1.users, ...page2.users].map((u: { email: string }) => u.email.toLowerCase())).toEqual([
      'admin@example.test',
      'user@example.test',
      'zed@example.test',
    ]);

    expectError(
      await t.app.inject({ method: 'PATCH', url: '/v1/me', headers: bearer(token), payload: { timezone: 'Mars/Olympus' } }),
      400,
      'VALIDATION_FAILED',
    );
    const patched = await t.app.inject({
      method: 'PATCH',
      url: '/v1/me',
      headers: bearer(token),
      payload: { name: '  Zed Z  ', timezone: 'America/New_York' },
    });
    expect(patched.json().user).toMatchObject({ name: 'Zed Z', timezone: 'America/New_York' });

    const audit = (await t.app.inject({ method: 'GET', url: '/v1/audit?action=user.created', headers: bearer(t.adminToken) })).json();
    expect(audit.entries.some((e: { targetId: string }) => e.targetId === user.id)).toBe(true);
  });

  it('serves an OpenAPI document generated from the route schemas, and a docs page', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/me', '/v1/users', '/v1/users/{id}', '/v1/tokens', '/health']));
    expect(doc.paths['/v1/tokens'].post.requestBody.content['application/json'].schema.required).toContain('name');
    const template = doc.paths['/v1/templates'].post.requestBody.content['application/json'].schema;
    expect(template.required).toEqual(['slug', 'name', 'description', 'category', 'systemPrompt']);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/templates/{id}/prompt', '/v1/templates/match']));
    const docs = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.headers['content-type']).toMatch(/html/);
  });

  it('exposes Prometheus metrics: request latency by route, the pool, event-loop delay', async () => {
    await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(t.userToken) });
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/agentry_http_request_duration_seconds_count\{method="GET",route="\/v1\/me",status_code="200"\} \d+/);
    expect(text).toMatch(/agentry_db_pool_connections\{state="max"\} \d+/);
    expect(text).toMatch(/nodejs_eventloop_lag_p99_seconds \d/);
  });

  it('carries a request id on every response', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/health' });
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('rate-limits each user per route group with 429 and Retry-After, without touching other users', async () => {
    let limited;
    for (let i = 0; i < 45 && !limited; i++) {
      const response = await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(t.userToken) });
      if (response.statusCode === 429) limited = response;
    }
    expect(limited).toBeDefined();
    expectError(limited!, 429, 'RATE_LIMITED');
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThan(0);
    expect((await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(t.adminToken) })).statusCode).toBe(200);
  });
});
