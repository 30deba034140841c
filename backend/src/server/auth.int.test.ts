import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import { TokenService } from '../accounts/index.ts';
import { PostgresDatabase } from '../database/index.ts';
import { isPublicRoute } from './public-routes.ts';

describe.each(drivers)('authentication on %s', (driver) => {
  let t: TestApp;
  let clock = Date.now();

  beforeAll(async () => {
    t = await createTestApp(driver, { AUTH_FAILURE_LIMIT: '5', TOKEN_CACHE_TTL_MS: '60000' }, { now: () => clock });
  });
  afterAll(() => t.close());

  let nextIp = 1;
  const freshIp = () => `10.1.0.${nextIp++}`;
  const me = (headers: Record<string, string>, ip = freshIp()) =>
    t.app.inject({ method: 'GET', url: '/v1/me', headers, remoteAddress: ip });
  const createToken = async (token: string, body: object) => {
    const response = await t.app.inject({ method: 'POST', url: '/v1/tokens', headers: bearer(token), payload: body });
    expect(response.statusCode).toBe(201);
    return response.json() as { id: string; token: string };
  };

  it('has exactly the public routes it means to have', () => {
    const open = [
      ...new Set(t.routes.filter((r) => r.method !== 'HEAD' && isPublicRoute(r.method, r.url)).map((r) => `${r.method} ${r.url}`)),
    ];
    expect(open.filter((r) => !r.startsWith('GET /docs') && !r.startsWith('GET /assets/')).sort()).toEqual([
      // the console's pages: one document that signs in first
      'GET /',
      'GET /agents',
      'GET /chat',
      'GET /chat/:sessionId',
      'GET /health',
      'GET /integrations',
      'GET /knowledge',
      'GET /metrics',
      'GET /openapi.json',
      'GET /ready',
      'GET /sessions',
      'GET /settings',
      'GET /sign-in',
      'GET /triggers',
      'GET /v1/oauth/callback',
      'GET /v1/ws',
      'POST /v1/console/sign-in',
      // signed with the trigger's secret instead
      'POST /v1/hooks/:id',
    ]);
  });

  it('requires a token on every registered route outside the public list', async () => {
    const protectedRoutes = t.routes.filter((r) => !isPublicRoute(r.method, r.url));
    expect(protectedRoutes.map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining(['GET /v1/me', 'POST /v1/users', 'DELETE /v1/tokens/:id', 'GET /v1/audit']),
    );
    for (const route of protectedRoutes) {
      const url = route.url.replace(/:[a-zA-Z]+/g, '00000000-0000-4000-8000-000000000000');
      const response = await t.app.inject({ method: route.method as 'GET', url, remoteAddress: freshIp() });
      const code = route.method === 'HEAD' ? 'UNAUTHORIZED' : response.json().error?.code; // HEAD answers carry no body
      expect(`${route.method} ${route.url} → ${response.statusCode} ${code}`).toBe(`${route.method} ${route.url} → 401 UNAUTHORIZED`);
    }
    for (const url of ['/health', '/ready', '/openapi.json', '/metrics', '/docs']) {
      expect([200, 302]).toContain((await t.app.inject({ method: 'GET', url })).statusCode);
    }
  });

  it('accepts a valid bearer token', async () => {
    const response = await me(bearer(t.userToken));
    expect(response.statusCode).toBe(200);
    expect(response.json().user).toMatchObject({ email: 'user@example.test', admin: false, disabled: false, timezone: 'UTC' });
  });

  it.each([
    ['empty', { authorization: '' }],
    ['bearer without a token', { authorization: 'Bearer ' }],
    ['malformed', { authorization: 'Bearer agt_short' }],
    ['another format entirely', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['a JWT', { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo' }],
    ['well-formed but unknown', { authorization: `Bearer agt_${'A'.repeat(43)}` }],
  ])('rejects a token that is %s with 401 UNAUTHORIZED', async (_name, headers) => {
    const response = await me(headers);
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('UNAUTHORIZED');
  });

  it('shows a new token once, lists tokens without secrets, and a revoked token stops working at once', async () => {
    const created = await createToken(t.userToken, { name: 'laptop' });
    expect(created.token).toMatch(/^agt_[A-Za-z0-9_-]{43}$/);
    expect((await me(bearer(created.token))).statusCode).toBe(200); // now cached

    const list = await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(t.userToken) });
    expect(list.body).not.toContain(created.token);
    expect(list.json().tokens.map((x: { name: string }) => x.name)).toContain('laptop');

    // The id in whatever case a client sends it.
    const revoke = await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${created.id.toUpperCase()}`, headers: bearer(t.userToken) });
    expect(revoke.statusCode).toBe(204);
    expect((await me(bearer(created.token))).statusCode).toBe(401);
    const audit = await t.app.inject({ method: 'GET', url: '/v1/audit?action=token.revoked', headers: bearer(t.adminToken) });
    expect(audit.json().entries[0]).toMatchObject({ action: 'token.revoked', targetId: created.id });
  });

  it("answers 404 for another user's token and leaves it working", async () => {
    const admins = await createToken(t.adminToken, { name: 'admin-ci' });
    const response = await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${admins.id}`, headers: bearer(t.userToken) });
    expect(response.statusCode).toBe(404);
    expect((await me(bearer(admins.token))).statusCode).toBe(200);
  });

  it('stops an expired token', async () => {
    const short = await createToken(t.userToken, { name: 'short', expiresInDays: 1 });
    expect((await me(bearer(short.token))).statusCode).toBe(200);
    clock += 86_400_000 + 1000;
    try {
      expect((await me(bearer(short.token))).statusCode).toBe(401);
    } finally {
      clock -= 86_400_000 + 1000;
    }
  });

  it("stops a disabled user's tokens at once, and an admin cannot lock themselves out", async () => {
    const victim = await t.runtime.users.create({ email: `victim-${driver}@example.test` }, { userId: null, ip: null });
    expect((await me(bearer(victim.token))).statusCode).toBe(200); // cached for a minute
    const disable = await t.app.inject({
      method: 'PATCH',
      url: `/v1/users/${victim.user.id}`,
      headers: bearer(t.adminToken),
      payload: { disabled: true },
    });
    expect(disable.statusCode).toBe(200);
    expect(disable.json().user.disabled).toBe(true);
    expect((await me(bearer(victim.token))).statusCode).toBe(401);

    const adminId = (await me(bearer(t.adminToken))).json().user.id as string;
    for (const id of [adminId, adminId.toUpperCase()]) {
      for (const payload of [{ disabled: true }, { admin: false }]) {
        const self = await t.app.inject({ method: 'PATCH', url: `/v1/users/${id}`, headers: bearer(t.adminToken), payload });
        expect(self.statusCode).toBe(409);
        expect(self.json().error.code).toBe('SELF_LOCKOUT');
      }
    }
    expect((await me(bearer(t.adminToken))).json().user.admin).toBe(true);
  });

  it('keeps admin routes from ordinary users', async () => {
    for (const [method, url] of [
      ['GET', '/v1/users'],
      ['GET', '/v1/audit'],
      ['POST', '/v1/users'],
    ] as const) {
      const response = await t.app.inject({
        method,
        url,
        headers: bearer(t.userToken),
        ...(method === 'POST' ? { payload: { email: 'x@example.test' } } : {}),
      });
      expect(response.statusCode).toBe(403);
      expect(response.json().error.code).toBe('FORBIDDEN');
    }
    expect(await t.runtime.users.findByEmail('x@example.test')).toBeUndefined();
  });

  it('rate-limits failed authentication per address, audits the burst, and never refuses a valid token', async () => {
    const ip = '10.2.0.1';
    const bad = { authorization: `Bearer agt_${'B'.repeat(43)}` };
    for (let i = 0; i < 5; i++) expect((await me(bad, ip)).statusCode).toBe(401);
    const limited = await me(bad, ip);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await me(bearer(t.userToken), ip)).statusCode).toBe(200);
    expect((await me(bad, '10.2.0.2')).statusCode).toBe(401);

    const audit = await t.app.inject({
      method: 'GET',
      url: '/v1/audit?action=auth.failure_burst',
      headers: bearer(t.adminToken),
      remoteAddress: '10.2.0.3',
    });
    expect(audit.json().entries).toHaveLength(1);
    expect(audit.json().entries[0].ip).toBe(ip);

    clock += 61_000;
    expect((await me(bad, ip)).statusCode).toBe(401);
  });

  it('records when a token was last used, at most once a minute', async () => {
    const fresh = await createToken(t.userToken, { name: 'usage' });
    const lastUsed = async () =>
      (await t.runtime.database.db.selectFrom('api_tokens').select('last_used_at').where('id', '=', fresh.id).executeTakeFirstOrThrow())
        .last_used_at;
    expect(await lastUsed()).toBeNull();
    await me(bearer(fresh.token));
    await expect.poll(lastUsed).not.toBeNull();
    const first = (await lastUsed())?.getTime();
    clock += 10_000;
    await me(bearer(fresh.token));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await lastUsed())?.getTime()).toBe(first);
  });
});

describe('token revocation across instances', () => {
  it('a token revoked on one instance stops working on another at once, though both had it cached', async () => {
    const a = await createTestApp('postgres', { TOKEN_CACHE_TTL_MS: '60000' });
    const secondDatabase = await PostgresDatabase.open(a.target, { pool: { max: 2, timeoutMs: 3000, statementTimeoutMs: 0 } });
    const b = new TokenService(secondDatabase, { cacheTtlMs: 60_000, onBackgroundError: () => undefined });
    await b.start();
    try {
      const created = (
        await a.app.inject({ method: 'POST', url: '/v1/tokens', headers: bearer(a.userToken), payload: { name: 'shared' } })
      ).json() as { id: string; token: string };
      expect(await b.authenticate(created.token)).toBeDefined(); // now cached on b
      expect((await a.app.inject({ method: 'DELETE', url: `/v1/tokens/${created.id}`, headers: bearer(a.userToken) })).statusCode).toBe(
        204,
      );
      await expect.poll(() => b.authenticate(created.token)).toBeUndefined();
    } finally {
      await b.stop();
      await secondDatabase.close();
      await a.close();
    }
  });
});
