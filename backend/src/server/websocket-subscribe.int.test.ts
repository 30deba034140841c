import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import { openSocket, type TestSocket } from '../../test/ws-client.ts';
import { closeCodes } from './websocket-gateway.ts';

/**
 * What subscribe frames cost the server: a frame naming a hundred topics is authorised in a
 * bounded number of queries (one per kind of topic), a client cannot queue frames without end,
 * and a flood of subscribe frames leaves another user's requests fast.
 */
describe.each(drivers)('subscribe frames on %s', (driver) => {
  let t: TestApp;
  let base: string;
  const sockets: TestSocket[] = [];
  const mine: string[] = [];
  const theirs: string[] = [];

  beforeAll(async () => {
    t = await createTestApp(driver, { WS_MAX_MESSAGES_PER_SECOND: '1000', WS_MAX_PAYLOAD_BYTES: String(64 * 1024) });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(t.app.server.address() as { port: number }).port}/v1/ws`;
    const start = async (token: string) =>
      (await t.app.inject({ method: 'POST', url: '/v1/sessions', headers: bearer(token), payload: {} })).json<{ session: { id: string } }>()
        .session.id;
    for (let i = 0; i < 10; i++) mine.push(await start(t.userToken));
    for (let i = 0; i < 10; i++) theirs.push(await start(t.adminToken));
  }, 60_000);
  afterEach(() => vi.restoreAllMocks());
  afterAll(async () => {
    for (const socket of sockets) socket.ws.terminate();
    await t.close();
  });

  const ready = async (token = t.userToken) => {
    const socket = openSocket(base, { headers: bearer(token) });
    sockets.push(socket);
    await socket.next((f) => f.type === 'ready');
    return socket;
  };
  /** Counts the SQL statements every pooled connection sends from now on (both drivers speak through pg). */
  const countQueries = () => {
    let count = 0;
    const query = pg.Client.prototype.query;
    vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: Parameters<typeof query>) {
      count += 1;
      return (query as (...a: unknown[]) => unknown).apply(this, args) as ReturnType<typeof query>;
    });
    return () => count;
  };

  it('authorises a frame of 100 session topics in a bounded number of queries', async () => {
    const socket = await ready();
    const strangers = Array.from({ length: 80 }, () => randomUUID());
    const topics = [...mine, ...theirs, ...strangers].map((id) => `session:${id}`);
    const queries = countQueries();
    socket.send({ type: 'subscribe', topics });
    const subscribed = await socket.next((f) => f.type === 'subscribed');
    expect(queries()).toBeLessThanOrEqual(4); // the old code made one per topic: 100
    expect(subscribed['topics']).toEqual(mine.map((id) => `session:${id}`));
    const refused = String((await socket.next((f) => f.type === 'error' && f.code === 'TOPIC_FORBIDDEN')).message);
    expect(refused).toContain(theirs[0]);
    expect(refused).not.toContain(mine[0]);
    socket.ws.close();
  });

  it('refuses malformed session ids without asking the database', async () => {
    const socket = await ready();
    const queries = countQueries();
    socket.send({
      type: 'subscribe',
      topics: [`session:${'-'.repeat(36)}`, `session:${'a'.repeat(36)}`, 'session:', `session:${mine[0]!.toUpperCase()}x`],
    });
    expect(await socket.next((f) => f.type === 'error')).toMatchObject({ code: 'TOPIC_FORBIDDEN' });
    expect(queries()).toBe(0);
    socket.send({ type: 'ping' });
    await socket.next((f) => f.type === 'pong');
    socket.ws.close();
  });

  it('closes a client that queues more frames than it lets the server answer (1008), and keeps the server healthy', async () => {
    const socket = await ready();
    const topics = Array.from({ length: 100 }, () => `session:${randomUUID()}`);
    const frame = JSON.stringify({ type: 'subscribe', topics });
    for (let i = 0; i < 200; i++) socket.ws.send(frame); // within the per-second limit (1000 here)
    const closed = await Promise.race([
      socket.closed,
      new Promise((resolve) => setTimeout(() => resolve('still open after 10 s'), 10_000)),
    ]);
    expect(closed).toEqual({ code: closeCodes.policy, reason: expect.stringMatching(/frames waiting for an answer/) });
    expect(socket.frames.filter((f) => f.type === 'error').length).toBeLessThan(200);
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it("a flood of subscribe frames from five sockets costs a query a frame, and another user's requests stay fast", async () => {
    const flooders = await Promise.all([0, 1, 2, 3, 4].map(() => ready()));
    const topics = Array.from({ length: 100 }, () => `session:${randomUUID()}`);
    const list = async () => {
      const started = performance.now();
      expect((await t.app.inject({ method: 'GET', url: '/v1/sessions', headers: bearer(t.adminToken) })).statusCode).toBe(200);
      return performance.now() - started;
    };
    await list(); // the admin's token is cached from here on
    const perList = countQueries();
    await list();
    const listQueries = perList();
    vi.restoreAllMocks();

    const queries = countQueries();
    const framesEach = 30;
    const flood = (async () => {
      for (let i = 0; i < framesEach; i++) {
        for (const socket of flooders) socket.send({ type: 'subscribe', topics });
        await new Promise((resolve) => setTimeout(resolve, 40)); // 25 frames a second per socket
      }
    })();
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) latencies.push(await list());
    await flood;
    for (const socket of flooders) await socket.next(() => socket.frames.filter((f) => f.type === 'error').length === framesEach, 20_000);
    // One authorisation query a frame: the old code made 100 (15,000 here).
    expect(queries()).toBeLessThanOrEqual(5 * framesEach * 2 + latencies.length * (listQueries + 2));
    latencies.sort((a, b) => a - b);
    expect(latencies[Math.floor(latencies.length * 0.95)]).toBeLessThan(1000); // generous: a few ms when idle
    for (const socket of flooders) socket.ws.close();
  }, 60_000);
});
