import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { openSocket } from '../../test/ws-client.ts';

/**
 * Authentication first: failed guesses from an address (or from the proxy every user shares)
 * never lock out a valid credential, and every kind of failed credential counts.
 */
describe('failed credentials and the failure limiter', () => {
  let t: TestApp;
  let ws: string;
  const limit = 3;
  const origin = 'http://agentry.example.test';
  const cookieName = 'agentry_session';
  const guess = `agt_${'G'.repeat(43)}`;
  let nextIp = 1;
  // Behind a trusted proxy the client's address comes from X-Forwarded-For: each test is its own client.
  const freshIp = () => `10.7.0.${nextIp++}`;
  const from = (ip: string) => ({ 'x-forwarded-for': ip });

  beforeAll(async () => {
    t = await createTestApp('pglite', {
      AUTH_FAILURE_LIMIT: String(limit),
      TRUST_PROXY: 'true',
      PUBLIC_URL: origin,
      TOKEN_CACHE_TTL_MS: '0',
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    ws = `ws://127.0.0.1:${(t.app.server.address() as { port: number }).port}/v1/ws`;
  });
  afterAll(() => t.close());

  const me = (ip: string, headers: Record<string, string> = {}, cookies: Record<string, string> = {}) =>
    t.app.inject({ method: 'GET', url: '/v1/me', headers: { ...from(ip), ...headers }, cookies });
  /** Whether the address is past its limit: a further bad guess from it answers 429 (and counts). */
  const limited = async (ip: string) => (await me(ip, { authorization: `Bearer ${guess}` })).statusCode === 429;
  /** The address has `left` failures to go: that many guesses answer 401, the next 429. */
  const expectFailuresLeft = async (ip: string, left: number) => {
    for (let i = 0; i < left; i++) expect(await limited(ip)).toBe(false);
    expect(await limited(ip)).toBe(true);
  };
  const signIn = (ip: string, token: string) =>
    t.app.inject({ method: 'POST', url: '/v1/console/sign-in', headers: from(ip), payload: { token } });

  it('lets a valid token, a valid console cookie and a console sign-in through from an address past its limit', async () => {
    const ip = freshIp();
    const session = (await signIn(ip, t.userToken)).cookies.find((c) => c.name === cookieName)!.value;
    for (let i = 0; i < 20; i++) expect([401, 429]).toContain((await me(ip, { authorization: `Bearer ${guess}` })).statusCode);
    const refused = await me(ip, { authorization: `Bearer ${guess}` });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe('RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);

    expect((await me(ip, bearer(t.userToken))).statusCode).toBe(200);
    expect((await me(ip, {}, { [cookieName]: session })).statusCode).toBe(200);
    const again = await signIn(ip, t.userToken);
    expect(again.statusCode).toBe(200);
    expect((await signIn(ip, guess)).statusCode).toBe(429);

    const socket = openSocket(ws, { headers: { ...from(ip), ...bearer(t.userToken) } });
    expect(await socket.next((f) => f['type'] === 'ready')).toMatchObject({ userId: t.userId });
    const framed = openSocket(ws, { headers: from(ip) });
    await framed.opened;
    framed.send({ type: 'auth', token: t.userToken });
    expect(await framed.next((f) => f['type'] === 'ready')).toMatchObject({ userId: t.userId });
    socket.ws.close();
    framed.ws.close();
  });

  it('counts a session cookie that was never issued, in HTTP and on the WebSocket, and answers it as an ended one', async () => {
    const ip = freshIp();
    const forged = `agt_${'C'.repeat(43)}`;
    const answer = await me(ip, {}, { [cookieName]: forged });
    expect(answer.statusCode).toBe(401);
    expect(answer.json().error.message).toMatch(/session has ended/);
    expect(answer.cookies.find((c) => c.name === cookieName)?.value).toBe('');
    const socket = openSocket(ws, { headers: { ...from(ip), origin, cookie: `${cookieName}=${forged}` } });
    expect((await socket.closed).code).toBe(4401);
    expect((await me(ip, {}, { [cookieName]: forged })).statusCode).toBe(401);
    // Three failures: the next forged cookie is refused as a guess past the limit.
    const past = await me(ip, {}, { [cookieName]: forged });
    expect(past.statusCode).toBe(429);
    expect(past.cookies.find((c) => c.name === cookieName)?.value).toBe('');
  });

  it('does not count the cookie of an ended session, revoked or expired', async () => {
    const ip = freshIp();
    const revoked = (await signIn(ip, t.userToken)).cookies.find((c) => c.name === cookieName)!.value;
    const expired = (await signIn(ip, t.userToken)).cookies.find((c) => c.name === cookieName)!.value;
    const id = (await t.runtime.tokens.authenticate(revoked))!.tokenId;
    await t.runtime.tokens.revoke(t.userId, id, { userId: t.userId, ip: null });
    const expiredId = (await t.runtime.tokens.authenticate(expired))!.tokenId;
    await t.runtime.database.db
      .updateTable('api_tokens')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', expiredId)
      .execute();
    for (let i = 0; i < limit * 3; i++) {
      for (const cookie of [revoked, expired]) {
        const ended = await me(ip, {}, { [cookieName]: cookie });
        expect(ended.statusCode).toBe(401);
        expect(ended.json().error.message).toMatch(/session has ended/);
      }
    }
    const socket = openSocket(ws, { headers: { ...from(ip), origin, cookie: `${cookieName}=${revoked}` } });
    expect((await socket.closed).code).toBe(4401);
    await expectFailuresLeft(ip, limit);
  });

  it('does not count a request with no credential at all, in HTTP or an empty WebSocket auth frame', async () => {
    const ip = freshIp();
    for (let i = 0; i < limit * 2; i++) expect((await me(ip)).statusCode).toBe(401);
    for (let i = 0; i < limit + 1; i++) {
      const socket = openSocket(ws, { headers: from(ip) });
      await socket.opened;
      socket.send({ type: 'auth', token: '' });
      expect((await socket.closed).code).toBe(4401);
    }
    await expectFailuresLeft(ip, limit);
  });

  it('counts a bad token in the WebSocket’s first frame, and refuses further guesses there past the limit', async () => {
    const ip = freshIp();
    for (let i = 0; i < limit; i++) {
      const socket = openSocket(ws, { headers: from(ip) });
      await socket.opened;
      socket.send({ type: 'auth', token: guess });
      expect((await socket.closed).code).toBe(4401);
    }
    expect(await limited(ip)).toBe(true);
    const socket = openSocket(ws, { headers: from(ip) });
    await socket.opened;
    socket.send({ type: 'auth', token: guess });
    expect((await socket.closed).code).toBe(4429);
  });

  it('counts a bad bearer token on the public OAuth callback, and answers it exactly as a valid one', async () => {
    const ip = freshIp();
    const callback = (url: string, token: string) => t.app.inject({ method: 'GET', url, headers: { ...from(ip), ...bearer(token) } });
    const urls = [
      '/v1/oauth/callback?code=abc&state=never-issued',
      '/v1/oauth/callback?code=abc',
      '/v1/oauth/callback?error=access_denied&state=x',
    ];
    for (const url of urls) {
      const valid = await callback(url, t.userToken);
      const invalid = await callback(url, guess);
      expect(invalid.statusCode).toBe(valid.statusCode);
      expect(invalid.json()).toEqual(valid.json());
      expect(valid.statusCode).toBe(400);
    }
    expect(await limited(ip)).toBe(true); // three guesses on the callback
    // Past the limit the callback still does not tell: no 429 for a guess there.
    const past = await callback('/v1/oauth/callback?code=abc&state=never-issued', guess);
    expect(past.statusCode).toBe(400);
    expect(past.json().error.code).toBe('OAUTH_STATE_INVALID');
  });
});
