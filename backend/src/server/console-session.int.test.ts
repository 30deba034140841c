import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { openSocket } from '../../test/ws-client.ts';

/** The console's sign-in: an API token traded for a session cookie, CSRF on changes, sign-out. */
describe('console sessions', () => {
  let t: TestApp;
  const origin = 'https://agentry.example.test';

  beforeAll(async () => {
    t = await createTestApp('pglite', { PUBLIC_URL: origin, WS_ALLOWED_ORIGINS: `${origin},https://tools.example.test` });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => t.close());

  const cookieName = '__Host-agentry_session'; // over https: no other site of the domain can set it
  const signIn = async (token = t.userToken, cookies: Record<string, string> = {}) => {
    const response = await t.app.inject({ method: 'POST', url: '/v1/console/sign-in', payload: { token }, cookies });
    expect(response.statusCode).toBe(200);
    const cookie = response.cookies.find((c) => c.name === cookieName)!;
    return { cookie, csrf: response.json<{ csrfToken: string }>().csrfToken, body: response.json<{ user: { email: string } }>() };
  };

  it('trades an API token for an HttpOnly, SameSite=Strict session cookie', async () => {
    const { cookie, csrf, body } = await signIn();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: true, path: '/', maxAge: 7 * 86_400 });
    expect(cookie.value).toMatch(/^agt_[A-Za-z0-9_-]{43}$/);
    expect(cookie.value).not.toBe(t.userToken);
    expect(body.user.email).toBe('user@example.test');
    const me = await t.app.inject({ method: 'GET', url: '/v1/me', cookies: { [cookieName]: cookie.value } });
    expect(me.statusCode).toBe(200);
    const session = await t.app.inject({ method: 'GET', url: '/v1/console/session', cookies: { [cookieName]: cookie.value } });
    expect(session.json()).toMatchObject({ csrfToken: csrf, user: { email: 'user@example.test' } });
    expect(session.headers['cache-control']).toBe('no-store');
    // Stored hashed, like every token; listed (and revocable) with the user's others.
    const listed = await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(t.userToken) });
    expect(listed.json().tokens).toContainEqual(expect.objectContaining({ name: 'Console session', current: false }));
    // Listed through the session itself, it is the current one: revoking it signs this browser out.
    const own = await t.app.inject({ method: 'GET', url: '/v1/tokens', cookies: { [cookieName]: cookie.value } });
    expect(
      own
        .json()
        .tokens.filter((x: { current: boolean }) => x.current)
        .map((x: { name: string }) => x.name),
    ).toEqual(['Console session']);
    expect(JSON.stringify(await t.runtime.database.db.selectFrom('api_tokens').selectAll().execute())).not.toContain(cookie.value);
  });

  it('refuses changes made by cookie without the session’s CSRF token', async () => {
    const { cookie, csrf } = await signIn();
    const create = (headers: Record<string, string>) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/agents',
        cookies: { [cookieName]: cookie.value },
        headers,
        payload: { name: 'From the console' },
      });
    for (const headers of [
      {} as Record<string, string>,
      { 'x-csrf-token': 'forged' },
      { 'x-csrf-token': csrf.slice(0, -1) + (csrf.endsWith('A') ? 'B' : 'A') },
    ]) {
      const refused = await create(headers);
      expect(refused.statusCode).toBe(403);
      expect(refused.json().error.code).toBe('CSRF_FAILED');
    }
    expect(
      (await t.app.inject({ method: 'GET', url: '/v1/agents', headers: bearer(t.userToken) }))
        .json()
        .agents.map((a: { name: string }) => a.name),
    ).not.toContain('From the console');
    expect((await create({ 'x-csrf-token': csrf })).statusCode).toBe(201);
    // Another session's CSRF token does not do.
    const other = await signIn();
    expect((await create({ 'x-csrf-token': other.csrf })).statusCode).toBe(403);
  });

  it('refuses a bad token, and a bearer token always wins over the cookie', async () => {
    const bad = await t.app.inject({ method: 'POST', url: '/v1/console/sign-in', payload: { token: 'agt_nope' } });
    expect(bad.statusCode).toBe(401);
    expect(bad.cookies).toEqual([]);
    expect((await t.app.inject({ method: 'POST', url: '/v1/console/sign-in', payload: {} })).statusCode).toBe(400);
    const { cookie } = await signIn();
    const me = await t.app.inject({ method: 'GET', url: '/v1/me', cookies: { [cookieName]: cookie.value }, headers: bearer(t.adminToken) });
    expect(me.json().user.email).toBe('admin@example.test');
    expect((await t.app.inject({ method: 'GET', url: '/v1/me', cookies: { [cookieName]: 'agt_not-a-session' } })).statusCode).toBe(401);
  });

  it('ends the previous session at a new sign-in, and lets an ended session go without counting it as a failed sign-in', async () => {
    const live = async () =>
      (await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(t.adminToken) }))
        .json()
        .tokens.filter((x: { name: string }) => x.name === 'Console session').length;
    let { cookie } = await signIn(t.adminToken);
    for (let i = 0; i < 3; i++) cookie = (await signIn(t.adminToken, { [cookieName]: cookie.value })).cookie;
    expect(await live()).toBe(1);
    // Revoked elsewhere: the page keeps asking with its cookie, more often than failures are allowed.
    const tokenId = (await t.app.inject({ method: 'GET', url: '/v1/tokens', headers: bearer(t.adminToken) }))
      .json()
      .tokens.find((x: { name: string }) => x.name === 'Console session').id;
    await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${tokenId}`, headers: bearer(t.adminToken) });
    for (let i = 0; i < 25; i++) {
      const ended = await t.app.inject({
        method: 'GET',
        url: '/v1/me',
        cookies: { [cookieName]: cookie.value },
        remoteAddress: '10.9.9.9',
      });
      expect(ended.statusCode).toBe(401);
      expect(ended.cookies.find((c) => c.name === cookieName)?.value).toBe('');
    }
    const again = await t.app.inject({
      method: 'POST',
      url: '/v1/console/sign-in',
      payload: { token: t.adminToken },
      remoteAddress: '10.9.9.9',
    });
    expect(again.statusCode).toBe(200);
  });

  it('refuses a second session cookie planted beside the first', async () => {
    const mine = await signIn();
    const planted = await signIn(t.adminToken);
    const both = await t.app.inject({
      method: 'GET',
      url: '/v1/me',
      headers: { cookie: `${cookieName}=${planted.cookie.value}; ${cookieName}=${mine.cookie.value}` },
    });
    expect(both.statusCode).toBe(401);
  });

  it('authenticates the page’s WebSocket by the cookie, and signing out ends the session and closes the socket', async () => {
    const { cookie, csrf } = await signIn();
    const url = `ws://127.0.0.1:${(t.app.server.address() as { port: number }).port}/v1/ws`;
    const socket = openSocket(url, { headers: { origin, cookie: `${cookieName}=${cookie.value}` } });
    await socket.opened;
    expect(await socket.next((f) => f['type'] === 'ready')).toMatchObject({ userId: t.userId });
    // Another site's page is refused even with the cookie (browsers would not send a Strict one).
    const foreign = openSocket(url, { headers: { origin: 'https://evil.example', cookie: `${cookieName}=${cookie.value}` } });
    await expect(foreign.opened).rejects.toThrow();
    // Another allowed origin may open sockets, but the console's cookie does not sign them in.
    const sibling = openSocket(url, { headers: { origin: 'https://tools.example.test', cookie: `${cookieName}=${cookie.value}` } });
    await sibling.opened;
    expect((await sibling.closed).code).toBe(4401);

    const out = await t.app.inject({
      method: 'POST',
      url: '/v1/console/sign-out',
      cookies: { [cookieName]: cookie.value },
      headers: { 'x-csrf-token': csrf },
    });
    expect(out.statusCode).toBe(204);
    expect(out.cookies.find((c) => c.name === cookieName)).toMatchObject({ value: '' });
    expect((await socket.closed).code).toBe(4401);
    expect((await t.app.inject({ method: 'GET', url: '/v1/me', cookies: { [cookieName]: cookie.value } })).statusCode).toBe(401);
    // Signing out needs a console session: a bearer token is revoked at /v1/tokens.
    expect((await t.app.inject({ method: 'POST', url: '/v1/console/sign-out', headers: bearer(t.userToken) })).statusCode).toBe(400);
  });
});
