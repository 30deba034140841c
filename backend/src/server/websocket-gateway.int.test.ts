import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import { openSocket, type TestSocket } from '../../test/ws-client.ts';
import { PostgresDatabase } from '../database/index.ts';
import { createRuntime } from '../runtime.ts';
import { buildApp } from './app.ts';
import { closeCodes } from './websocket-gateway.ts';

describe.each(drivers)('the WebSocket gateway on %s', (driver) => {
  let t: TestApp;
  let base: string;
  let userId: string;
  let adminId: string;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    t = await createTestApp(driver, {
      WS_MAX_CONNECTIONS_PER_USER: '3',
      WS_MAX_PAYLOAD_BYTES: '4096',
      WS_MAX_MESSAGES_PER_SECOND: '30',
      WS_MAX_BUFFERED_BYTES: '262144',
      PUBLIC_URL: 'https://agentry.example.test',
      TOKEN_CACHE_TTL_MS: '60000',
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(t.app.server.address() as { port: number }).port}/v1/ws`;
    userId = t.userId;
    adminId = (await t.runtime.users.findByEmail('admin@example.test'))!.id;
  });
  afterAll(async () => {
    for (const s of sockets) s.ws.terminate();
    await t.close();
  });

  const open = (options: { headers?: Record<string, string> } = {}) => {
    const socket = openSocket(base, options);
    sockets.push(socket);
    return socket;
  };
  /** An authenticated socket following `topics`. */
  const follow = async (token: string, topics: string[], since?: number) => {
    const socket = open({ headers: bearer(token) });
    await socket.next((f) => f.type === 'ready');
    socket.send({ type: 'subscribe', topics, ...(since !== undefined ? { since } : {}) });
    await socket.next((f) => f.type === 'subscribed');
    return socket;
  };
  const publish = (owner: string, toolCount: number, topic = 'integrations') =>
    t.runtime.database
      .transaction((tx) =>
        t.runtime.events.bus.publish(tx, {
          userId: owner,
          topic,
          event: { type: 'integration.refreshed', data: { integrationId: 'i', provider: 'slack', toolCount } },
        }),
      )
      .then(([id]) => id!);
  const counts = (socket: TestSocket) => socket.events().map((f) => (f.data as { toolCount: number }).toolCount);

  it('authenticates with the Authorization header and streams events as frames', async () => {
    const socket = await follow(t.userToken, ['integrations']);
    const id = await publish(userId, 1);
    const frame = await socket.next((f) => f.type === 'event');
    expect(frame).toEqual({
      type: 'event',
      id,
      topic: 'integrations',
      event: 'integration.refreshed',
      data: { integrationId: 'i', provider: 'slack', toolCount: 1 },
      at: expect.any(String),
    });
    socket.ws.close();
  });

  it('tells a subscriber its position, from which a reconnect resumes without missing what happened in between', async () => {
    const first = open({ headers: bearer(t.userToken) });
    await first.next((f) => f.type === 'ready');
    const before = await publish(userId, 10);
    first.send({ type: 'subscribe', topics: ['integrations'] });
    const { position } = (await first.next((f) => f.type === 'subscribed')) as { position: number };
    expect(position).toBeGreaterThanOrEqual(before);
    first.ws.close();
    const missed = await publish(userId, 11);
    const second = await follow(t.userToken, ['integrations'], position);
    expect(await second.next((f) => f.type === 'event')).toMatchObject({ id: missed, data: { toolCount: 11 } });
    second.ws.close();
  });

  it('authenticates with a first auth frame', async () => {
    const socket = open();
    await socket.opened;
    socket.send({ type: 'auth', token: t.userToken });
    expect(await socket.next((f) => f.type === 'ready')).toEqual({ type: 'ready', userId });
    socket.ws.close();
  });

  it("never sends another user's events, whatever the topic, live or replayed", async () => {
    const mine = await follow(t.userToken, ['integrations', 'knowledge']);
    await publish(adminId, 100);
    await publish(adminId, 101, 'knowledge');
    await publish(userId, 2);
    await mine.next((f) => f.type === 'event');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(counts(mine)).toEqual([2]);
    mine.ws.close();
    const replayed = await follow(t.userToken, ['integrations', 'knowledge'], 0);
    await replayed.next((f) => f.type === 'event' && (f.data as { toolCount: number }).toolCount === 2);
    expect(counts(replayed).filter((n) => n >= 100)).toEqual([]);
    replayed.ws.close();
    await replayed.closed;
  });

  it('loses nothing and repeats nothing when a client drops and resumes from the last id it saw', async () => {
    const first = await follow(t.userToken, ['integrations']);
    const published = [await publish(userId, 20), await publish(userId, 21)];
    await first.next(() => first.events().length === 2);
    const lastSeen = first.events().at(-1)!.id as number;
    first.ws.terminate();
    await first.closed;
    published.push(await publish(userId, 22), await publish(userId, 23)); // while away
    const again = await follow(t.userToken, ['integrations'], lastSeen);
    published.push(await publish(userId, 24));
    await again.next(() => again.events().length === 3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect([...first.events(), ...again.events()].map((f) => f.id)).toEqual(published);
    again.ws.close();
    await again.closed;
  });

  it('frees the connection slot of a client that leaves while its token is being checked', async () => {
    for (let i = 0; i < 6; i++) {
      const fresh = await t.runtime.tokens.create(adminId, { name: `race-${i}` }, { userId: null, ip: null }); // not cached: a database check
      const socket = open();
      await socket.opened;
      socket.send({ type: 'auth', token: fresh.token });
      socket.ws.terminate();
      await socket.closed;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const held = await Promise.all([0, 1, 2].map(() => follow(t.adminToken, ['integrations']))); // the limit is 3
    for (const s of held) s.ws.close();
    await Promise.all(held.map((s) => s.closed));
  });

  it('replays from `since`, then continues live, with no gap and no duplicate at the seam', async () => {
    const first = await publish(userId, 10);
    await publish(userId, 11);
    await publish(userId, 12);
    const socket = open({ headers: bearer(t.userToken) });
    await socket.next((f) => f.type === 'ready');
    socket.send({ type: 'subscribe', topics: ['integrations'], since: first });
    // Events committed while the replay runs land at the seam.
    const during = Promise.all([publish(userId, 13), publish(userId, 14)]);
    await during;
    await publish(userId, 15);
    await expect.poll(() => [...counts(socket)].sort((a, b) => a - b)).toEqual([11, 12, 13, 14, 15]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(counts(socket)).toHaveLength(5); // and no duplicate arrives late
    const ids = socket.events().map((f) => f.id as number);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids); // in id order
    socket.ws.close();
  });

  it('closes the sockets of a revoked token and of a disabled user with 4401', async () => {
    const created = (
      await t.app.inject({ method: 'POST', url: '/v1/tokens', headers: bearer(t.userToken), payload: { name: 'ws' } })
    ).json() as { id: string; token: string };
    const socket = await follow(created.token, ['integrations']);
    await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${created.id}`, headers: bearer(t.userToken) });
    expect((await socket.closed).code).toBe(closeCodes.unauthorized);

    const victim = await t.runtime.users.create({ email: `ws-victim-${driver}@example.test` }, { userId: null, ip: null });
    const victimSocket = await follow(victim.token, ['integrations']);
    await t.app.inject({ method: 'PATCH', url: `/v1/users/${victim.user.id}`, headers: bearer(t.adminToken), payload: { disabled: true } });
    expect((await victimSocket.closed).code).toBe(closeCodes.unauthorized);
    const again = open({ headers: bearer(victim.token) });
    expect((await again.closed).code).toBe(closeCodes.unauthorized);
  });

  it('limits connections per user', async () => {
    const held = await Promise.all([0, 1, 2].map(() => follow(t.adminToken, ['integrations'])));
    const extra = open({ headers: bearer(t.adminToken) });
    expect((await extra.closed).code).toBe(closeCodes.tooManyConnections);
    for (const s of held) s.ws.close();
    await Promise.all(held.map((s) => s.closed));
    const after = await follow(t.adminToken, ['integrations']); // a slot is free again
    after.ws.close();
  });

  it('cuts off a slow reader (1013) and keeps serving the others', async () => {
    const slow = await follow(t.userToken, ['integrations']);
    const fine = await follow(t.userToken, ['integrations']);
    slow.ws.pause(); // stops reading; the server's buffer fills
    // More than the kernel's socket buffers hold (several MiB on loopback), so the server's own buffer has to grow.
    const names = Array.from({ length: 1000 }, (_, i) => `tool_${i}_${'x'.repeat(180)}`);
    const n = 150;
    for (let i = 0; i < n && slow.ws.readyState === slow.ws.OPEN; i++) {
      await t.runtime.database.transaction((tx) =>
        t.runtime.events.bus.publish(tx, {
          userId,
          topic: 'integrations',
          event: { type: 'tools.changed', data: { added: names, removed: [], changed: [] } },
        }),
      );
      await fine.next(() => fine.events().length === i + 1); // a reader that keeps up
    }
    slow.ws.resume();
    expect((await slow.closed).code).toBe(closeCodes.slowConsumer);
    expect(slow.events().length).toBeLessThan(fine.events().length);
    expect(fine.ws.readyState).toBe(fine.ws.OPEN);
    fine.ws.close();
    await fine.closed;
  });

  describe('bad input gets an error frame or a close code, and the server stays healthy', () => {
    it('an upgrade without credentials is closed with 4401 after 5 seconds and receives nothing', async () => {
      const socket = open();
      await publish(userId, 50);
      const { code } = await socket.closed;
      expect(code).toBe(closeCodes.unauthorized);
      expect(socket.frames).toEqual([]);
    }, 10_000);

    it('a frame before auth closes with 4401', async () => {
      const socket = open();
      await socket.opened;
      socket.send({ type: 'subscribe', topics: ['integrations'] });
      expect((await socket.closed).code).toBe(closeCodes.unauthorized);
      expect(socket.frames).toEqual([]);
    });

    it('an invalid or expired token closes with 4401', async () => {
      const socket = open();
      await socket.opened;
      socket.send({ type: 'auth', token: `agt_${'C'.repeat(43)}` });
      expect((await socket.closed).code).toBe(closeCodes.unauthorized);
      expect((await open({ headers: { authorization: 'Bearer nope' } }).closed).code).toBe(closeCodes.unauthorized);
    });

    it('an Origin not on the list is refused before the upgrade', async () => {
      await expect(open({ headers: { ...bearer(t.userToken), origin: 'https://evil.example' } }).opened).rejects.toThrow(/403/);
      const allowed = open({ headers: { ...bearer(t.userToken), origin: 'https://agentry.example.test' } });
      await allowed.next((f) => f.type === 'ready');
      allowed.ws.close();
    });

    it.each([
      ['non-JSON', 'this is not json', 'INVALID_FRAME'],
      ['an unknown frame type', { type: 'launch' }, 'INVALID_FRAME'],
      ['10,000 topics in one subscribe', { type: 'subscribe', topics: Array.from({ length: 10_000 }, (_, i) => `t${i}`) }, 'CLOSE_1009'],
      ['101 topics in one subscribe', { type: 'subscribe', topics: Array.from({ length: 101 }, (_, i) => `t${i}`) }, 'INVALID_FRAME'],
      ['a negative since', { type: 'subscribe', topics: ['integrations'], since: -1 }, 'INVALID_FRAME'],
      ['a since that is not a number', { type: 'subscribe', topics: ['integrations'], since: 'yesterday' }, 'INVALID_FRAME'],
      ['a huge since', { type: 'subscribe', topics: ['integrations'], since: 9_007_199_254_740_991 }, 'INVALID_SINCE'],
      ['a since beyond safe integers', { type: 'subscribe', topics: ['integrations'], since: 1e300 }, 'INVALID_FRAME'],
      ["another user's or an unknown topic", { type: 'subscribe', topics: ['nonsense:topic'] }, 'TOPIC_FORBIDDEN'],
      ['an oversized frame', { type: 'ping', pad: 'x'.repeat(5000) }, 'CLOSE_1009'],
    ])('%s', async (_name, frame, expected) => {
      const socket = open({ headers: bearer(t.userToken) });
      await socket.next((f) => f.type === 'ready');
      socket.send(frame);
      if (expected.startsWith('CLOSE_')) {
        expect((await socket.closed).code).toBe(Number(expected.slice(6)));
      } else {
        const error = await socket.next((f) => f.type === 'error');
        expect(error.code).toBe(expected);
        expect(String(error.message).length).toBeGreaterThan(10);
        socket.send({ type: 'ping' });
        await socket.next((f) => f.type === 'pong'); // the connection is still usable
        socket.ws.close();
        await socket.closed;
      }
      expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    });

    it('a flood of frames closes with 1008', async () => {
      const socket = open({ headers: bearer(t.userToken) });
      await socket.next((f) => f.type === 'ready');
      for (let i = 0; i < 100; i++) socket.send({ type: 'ping' });
      expect((await socket.closed).code).toBe(closeCodes.policy);
    });
  });

  it('serves the same stream as server-sent events, resuming after Last-Event-ID', async () => {
    const first = await publish(userId, 60);
    await publish(userId, 61);
    const port = (t.app.server.address() as { port: number }).port;
    const controller = new AbortController();
    const response = await fetch(`http://127.0.0.1:${port}/v1/events/stream?topics=integrations`, {
      headers: { ...bearer(t.userToken), 'last-event-id': String(first) },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = response.body!.getReader();
    let text = '';
    await publish(userId, 62);
    while (!text.includes('"toolCount":62')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBeGreaterThan(first);
    expect(text).not.toContain('"toolCount":60');
  });

  it('ends a server-sent event stream when its token is revoked', async () => {
    const created = (
      await t.app.inject({ method: 'POST', url: '/v1/tokens', headers: bearer(t.userToken), payload: { name: 'sse' } })
    ).json() as { id: string; token: string };
    const port = (t.app.server.address() as { port: number }).port;
    const response = await fetch(`http://127.0.0.1:${port}/v1/events/stream?topics=integrations`, { headers: bearer(created.token) });
    const reader = response.body!.getReader();
    await t.app.inject({ method: 'DELETE', url: `/v1/tokens/${created.id}`, headers: bearer(t.userToken) });
    const ended = await (async () => {
      for (;;) {
        const chunk = await reader.read().catch(() => ({ done: true }));
        if (chunk.done) return true;
      }
    })();
    expect(ended).toBe(true);
  });

  it('answers the event history, filtered and paginated', async () => {
    const page = await t.app.inject({
      method: 'GET',
      url: '/v1/events?topic=integrations&types=integration.refreshed&limit=2',
      headers: bearer(t.userToken),
    });
    expect(page.statusCode).toBe(200);
    const body = page.json() as { events: { id: number; event: string }[]; next: number };
    expect(body.events).toHaveLength(2);
    expect(body.events.every((e) => e.event === 'integration.refreshed')).toBe(true);
    const more = (
      await t.app.inject({ method: 'GET', url: `/v1/events?after=${body.next}&limit=1000`, headers: bearer(t.userToken) })
    ).json() as { events: { id: number }[] };
    expect(more.events[0]!.id).toBeGreaterThan(body.next);
    const bad = await t.app.inject({ method: 'GET', url: '/v1/events?types=made.up', headers: bearer(t.userToken) });
    expect(bad.statusCode).toBe(400);
    const others = (await t.app.inject({ method: 'GET', url: '/v1/events?limit=1000', headers: bearer(t.adminToken) })).json() as {
      events: { data: { toolCount?: number } }[];
    };
    expect(others.events.every((e) => e.data.toolCount === undefined || e.data.toolCount >= 100)).toBe(true);
  });
});

describe('two server instances on one PostgreSQL', () => {
  it('an event committed on one instance reaches a socket on the other', async () => {
    const one = await createTestApp('postgres');
    const database = await PostgresDatabase.open(one.target, { pool: { max: 4, timeoutMs: 3000, statementTimeoutMs: 0 } });
    const runtime = await createRuntime(one.config, database, { warn: () => undefined, info: () => undefined });
    const two = await buildApp(runtime, { logger: false });
    await two.listen({ port: 0, host: '127.0.0.1' });
    try {
      const socket = openSocket(`ws://127.0.0.1:${(two.server.address() as { port: number }).port}/v1/ws`, {
        headers: bearer(one.userToken),
      });
      await socket.next((f) => f.type === 'ready');
      socket.send({ type: 'subscribe', topics: ['integrations'] });
      await socket.next((f) => f.type === 'subscribed');
      const [id] = await one.runtime.database.transaction((tx) =>
        one.runtime.events.bus.publish(tx, {
          userId: one.userId,
          topic: 'integrations',
          event: { type: 'integration.connected', data: { integrationId: 'i', provider: 'github' } },
        }),
      );
      expect(await socket.next((f) => f.type === 'event')).toMatchObject({ id, event: 'integration.connected' });
      socket.ws.close();
    } finally {
      await two.close();
      await runtime.close();
      await one.close();
    }
  });
});
