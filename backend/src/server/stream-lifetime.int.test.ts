import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { openSocket } from '../../test/ws-client.ts';
import { closeCodes } from './websocket-gateway.ts';

/**
 * EVENT_STREAM_MAX_LIFETIME_MS: a stream opened with a token that never expires still ends, the
 * WebSocket with a code the console reconnects on (not 4401, which signs it out), and both kinds
 * resume from their last event id without losing what happened in between.
 */
describe('the maximum lifetime of an event stream', () => {
  const lifetimeMs = 1500;
  let t: TestApp;
  let port = 0;

  beforeAll(async () => {
    t = await createTestApp('pglite', { EVENT_STREAM_MAX_LIFETIME_MS: String(lifetimeMs) });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as { port: number }).port;
  });
  afterAll(() => t.close());

  const publish = (toolCount: number) =>
    t.runtime.database
      .transaction((tx) =>
        t.runtime.events.bus.publish(tx, {
          userId: t.userId,
          topic: 'integrations',
          event: { type: 'integration.refreshed', data: { integrationId: 'i', provider: 'slack', toolCount } },
        }),
      )
      .then(([id]) => id!);

  it('closes a WebSocket with 4408 at its lifetime, and a reconnect resumes with since', async () => {
    const socket = openSocket(`ws://127.0.0.1:${port}/v1/ws`, { headers: bearer(t.userToken) });
    await socket.next((f) => f['type'] === 'ready');
    const opened = Date.now();
    socket.send({ type: 'subscribe', topics: ['integrations'] });
    await socket.next((f) => f['type'] === 'subscribed');
    const seen = await publish(1);
    await socket.next((f) => f['type'] === 'event');
    const closed = await socket.closed;
    expect(closed.code).toBe(closeCodes.lifetime);
    expect(closed.code).not.toBe(closeCodes.unauthorized);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(lifetimeMs - 200);
    expect(Date.now() - opened).toBeLessThan(lifetimeMs + 1500);

    const missed = await publish(2);
    const again = openSocket(`ws://127.0.0.1:${port}/v1/ws`, { headers: bearer(t.userToken) });
    await again.next((f) => f['type'] === 'ready');
    again.send({ type: 'subscribe', topics: ['integrations'], since: seen });
    expect(await again.next((f) => f['type'] === 'event')).toMatchObject({ id: missed, data: { toolCount: 2 } });
    again.ws.close();
  });

  it('ends a server-sent event stream at its lifetime, and a reconnect resumes with Last-Event-ID', async () => {
    const url = `http://127.0.0.1:${port}/v1/events/stream?topics=integrations`;
    const opened = Date.now();
    const response = await fetch(url, { headers: bearer(t.userToken), signal: AbortSignal.timeout(lifetimeMs + 5000) });
    expect(response.status).toBe(200);
    const seen = await publish(3);
    let text = '';
    const reader = response.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain(`id: ${seen}\n`);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(lifetimeMs - 200);
    expect(Date.now() - opened).toBeLessThan(lifetimeMs + 1500);

    const missed = await publish(4);
    const again = await fetch(url, {
      headers: { ...bearer(t.userToken), 'last-event-id': String(seen) },
      signal: AbortSignal.timeout(lifetimeMs + 5000),
    });
    const resumed = again.body!.getReader();
    let more = '';
    while (!more.includes(`id: ${missed}\n`)) {
      const { done, value } = await resumed.read();
      if (done) break;
      more += new TextDecoder().decode(value);
    }
    expect(more).toContain(`id: ${missed}\n`);
    expect(more).not.toContain(`id: ${seen}\n`);
    await resumed.cancel();
  });
});
