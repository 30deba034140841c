import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../../test/test-app.ts';

/** The server-sent event stream's own limits: a count per user, and its credential's lifetime. */
describe('the server-sent event stream', () => {
  let t: TestApp;
  let base: string;
  const opened: AbortController[] = [];

  beforeAll(async () => {
    t = await createTestApp('pglite', { SSE_MAX_STREAMS_PER_USER: '2' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const controller of opened) controller.abort();
    await t.close();
  });

  /** Opens a stream on a topic with no events yet; its answer must not wait for one. */
  const openStream = async (token: string) => {
    const controller = new AbortController();
    opened.push(controller);
    const timeout = setTimeout(() => controller.abort(new Error('no answer within 2 s')), 2000);
    const response = await fetch(`${base}/v1/events/stream?topics=knowledge`, { headers: bearer(token), signal: controller.signal });
    clearTimeout(timeout);
    return { response, close: () => controller.abort() };
  };
  /** Resolves once the server ends the stream. */
  const ended = async (response: Response) => {
    const reader = response.body!.getReader();
    for (;;) if ((await reader.read().catch(() => ({ done: true }))).done) return true;
  };

  it('sends its headers at once, before any event', async () => {
    const started = Date.now();
    const { response, close } = await openStream(t.userToken);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(Date.now() - started).toBeLessThan(2000);
    close();
  });

  it('allows SSE_MAX_STREAMS_PER_USER streams per user, then 429 TOO_MANY_STREAMS, and counts each user apart', async () => {
    const first = await openStream(t.userToken);
    const second = await openStream(t.userToken);
    expect([first.response.status, second.response.status]).toEqual([200, 200]);
    const third = await fetch(`${base}/v1/events/stream?topics=knowledge`, { headers: bearer(t.userToken) });
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_STREAMS');
    const others = await openStream(t.adminToken);
    expect(others.response.status).toBe(200);
    others.close();
    // Closing one makes room.
    first.close();
    await expect
      .poll(async () => {
        const again = await fetch(`${base}/v1/events/stream?topics=knowledge`, {
          headers: bearer(t.userToken),
          signal: AbortSignal.timeout(2000),
        }).catch(() => undefined);
        if (again?.status === 200) void again.body?.cancel();
        return again?.status;
      })
      .toBe(200);
    second.close();
  });

  it('ends when its token expires', async () => {
    const created = await t.runtime.tokens.create(t.userId, { name: 'short-lived' }, { userId: t.userId, ip: null });
    await t.runtime.database.db
      .updateTable('api_tokens')
      .set({ expires_at: new Date(Date.now() + 1500) })
      .where('id', '=', created.id)
      .execute();
    const { response } = await openStream(created.token);
    expect(response.status).toBe(200);
    const started = Date.now();
    expect(await ended(response)).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await fetch(`${base}/v1/events/stream?topics=knowledge`, { headers: bearer(created.token) })).status).toBe(401);
  });
});
