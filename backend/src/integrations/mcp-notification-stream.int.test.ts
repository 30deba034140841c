import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeMcpServer, type FakeMcpServer } from '../../test/fake-mcp-server.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const mb = 1024 * 1024;

/** Heap and array buffers in use, after collecting what is garbage. */
async function memoryInUse(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** The highest heap and array buffers in use (garbage included) while `run` runs, sampled every 20 ms. */
async function peakWhile(run: () => Promise<void>): Promise<number> {
  let peak = 0;
  const sample = () => {
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    peak = Math.max(peak, heapUsed + arrayBuffers);
  };
  const sampler = setInterval(sample, 20);
  try {
    await run();
  } finally {
    clearInterval(sampler);
    sample();
  }
  return peak;
}

/**
 * A user's MCP server cannot fill the server's memory through its notification stream (the GET
 * event stream): one endless event, or a flood of small ones, closes that stream (and its client),
 * degrades the connection with an event saying why, and leaves nothing behind. The MCP server is
 * built with the MCP SDK on 127.0.0.1; only its notification stream is hostile.
 */
describe('an MCP server’s notification stream (embedded database, MCP server on 127.0.0.1)', () => {
  let server: FakeMcpServer;
  let t: TestApp;
  let dir: string;
  let connectionId: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-mcp-stream-'));
    server = await startFakeMcpServer('changing', { accepts: (token) => token === 'hostile-key' });
    const catalogue = path.join(dir, 'integrations.yaml');
    fs.writeFileSync(
      catalogue,
      `providers:\n  - id: hostile\n    name: Hostile\n    auth: { type: api_key }\n    mcp: { transport: streamable-http, url: '${server.url}' }\n`,
    );
    t = await createTestApp('pglite', {
      INTEGRATIONS_CATALOGUE: catalogue,
      OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
      INTEGRATIONS_MAX_RESPONSE_BYTES: String(mb),
      INTEGRATIONS_HEALTH_INTERVAL_MS: '0',
    });
    const connected = await t.app.inject({
      method: 'POST',
      url: '/v1/integrations/hostile/connect',
      headers: bearer(t.userToken),
      payload: { apiKey: 'hostile-key' },
    });
    expect(connected.statusCode).toBe(201);
    connectionId = connected.json<{ connection: { id: string } }>().connection.id;
    await t.runtime.integrationTools.refresh(connectionId);
  }, 60_000);

  afterAll(async () => {
    await t.close();
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const status = async () =>
    (
      await t.runtime.database.db
        .selectFrom('integration_connections')
        .select('status')
        .where('id', '=', connectionId)
        .executeTakeFirstOrThrow()
    ).status;
  const errors = async () =>
    (
      await t.runtime.database.db
        .selectFrom('events')
        .select('data')
        .where('type', '=', 'integration.error')
        .where('user_id', '=', t.userId)
        .orderBy('id')
        .execute()
    ).map((e) => (e.data as { message: string }).message);
  /**
   * Makes the server's notification streams hostile, has the connection used by a new client (whose
   * stream that is), and waits for that stream to be over: the client hung up, or the server sent
   * all it had. Resolves with the stream's record.
   */
  const hostileStream = async (kind: 'huge-event' | 'flood') => {
    server.misbehave = kind;
    const index = server.hostileStreams.length;
    await t.runtime.integrationTools.forget(connectionId);
    // Listing the tools needs a client; it may be closed with its stream before the listing is answered.
    await t.runtime.integrationTools.refresh(connectionId).catch(() => undefined);
    await expect
      .poll(() => server.hostileStreams[index] && (server.hostileStreams[index].closedByClient || server.hostileStreams[index].ended), {
        timeout: 20_000,
        interval: 50,
      })
      .toBe(true);
    return server.hostileStreams[index]!;
  };
  const recover = async () => {
    server.misbehave = 'none';
    await t.runtime.integrationTools.refresh(connectionId);
    expect(await status()).toBe('connected');
  };

  it('closes a stream whose event never ends, without holding it, and degrades the connection', async () => {
    const before = await memoryInUse();
    const streams = server.hostileStreams.length;
    const peak = await peakWhile(async () => {
      const stream = await hostileStream('huge-event');
      // Cut off soon after the 1 MB cap (what the sockets' buffers hold aside), not read to its end.
      expect(stream).toMatchObject({ closedByClient: true, ended: false });
      expect(stream.sent).toBeLessThan(32 * mb);
    });
    expect(peak - before).toBeLessThan(100 * mb);
    await expect.poll(status, { timeout: 5000 }).toBe('degraded');
    expect(await errors()).toContainEqual(
      expect.stringMatching(/Hostile MCP server's notification stream was closed: it sent an event larger than 1 MB/),
    );
    // The client went with its stream: the SDK does not reconnect (its first retry would come after 1 s).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(server.hostileStreams).toHaveLength(streams + 1);
    expect((await memoryInUse()) - before).toBeLessThan(32 * mb);
    await recover(); // the next use connects afresh
  });

  it('closes a flooding stream after a bounded number of events, and degrades the connection', async () => {
    const before = await memoryInUse();
    const peak = await peakWhile(async () => {
      const stream = await hostileStream('flood');
      expect(stream).toMatchObject({ closedByClient: true, ended: false });
      expect(stream.sent).toBeLessThan(32 * mb);
    });
    expect(peak - before).toBeLessThan(100 * mb);
    await expect
      .poll(async () => (await errors()).some((m) => /notification stream was closed: it sent more than 100 events in 10 s/.test(m)), {
        timeout: 5000,
      })
      .toBe(true);
    await expect.poll(status, { timeout: 5000 }).toBe('degraded');
    expect((await memoryInUse()) - before).toBeLessThan(32 * mb);
    await recover();
  });

  it('reads nothing of what a server says to our answers, so a flood of its requests buffers nothing', async () => {
    server.misbehave = 'ping-flood';
    server.pingAnswers = 0;
    await t.runtime.integrationTools.forget(connectionId);
    const before = await memoryInUse();
    const peak = await peakWhile(async () => {
      await t.runtime.integrationTools.refresh(connectionId); // a new client: its stream sends 100 pings, each answered
      await expect.poll(() => server.pingAnswers, { timeout: 10_000, interval: 20 }).toBe(100);
    });
    // The old code read the 900 KB reply to each of the 100 answers, all at once: 90 MB and more.
    expect(peak - before).toBeLessThan(50 * mb);
    expect(await status()).toBe('connected'); // 100 events are within the bound
    await recover();
  });
});
