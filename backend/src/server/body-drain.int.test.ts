import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/test-app.ts';
import { maxDrainMs } from './body-drain.ts';

/**
 * The rest of a refused body is read and discarded for a short while of its own, not for the whole
 * request timeout (120 s here, the default), and a client that asked to close its connection gets
 * it closed once its body has been read.
 */
describe('discarding a refused body', () => {
  let t: TestApp;
  let port = 0;

  beforeAll(async () => {
    t = await createTestApp('pglite');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as { port: number }).port;
  });
  afterAll(() => t?.close());

  /**
   * Sends `head` and `body` (in 64 KiB pieces, or a byte every `dripMs`), and resolves with what
   * came back, when the server closed the connection after the last byte was written (or
   * undefined: still open `giveUpMs` after the start), and whether it was reset.
   */
  const send = (head: string, body: Buffer, options: { dripMs?: number; giveUpMs: number }) =>
    new Promise<{ answer: string; closedAfterMs?: number; closedAfterWriteMs?: number; reset: boolean }>((resolve) => {
      const started = Date.now();
      let wroteAll = started;
      const socket = net.connect(port, '127.0.0.1');
      let answer = '';
      let reset = false;
      let closedByServer = true;
      const giveUp = setTimeout(() => ((closedByServer = false), socket.destroy()), options.giveUpMs);
      socket.on('data', (chunk) => (answer += chunk.toString()));
      socket.on('error', () => (reset = true));
      socket.on('close', () => {
        clearTimeout(giveUp);
        resolve({
          answer,
          reset,
          ...(closedByServer ? { closedAfterMs: Date.now() - started, closedAfterWriteMs: Date.now() - wroteAll } : {}),
        });
      });
      socket.on('connect', async () => {
        socket.write(head);
        const step = options.dripMs ? 1 : 65_536;
        for (let at = 0; at < body.length && !socket.destroyed; at += step) {
          if (options.dripMs) await new Promise((resume) => setTimeout(resume, options.dripMs));
          if (!socket.write(body.subarray(at, at + step)))
            await new Promise((resume) => (socket.once('drain', resume), socket.once('close', resume)));
        }
        wroteAll = Date.now();
      });
    });

  it('closes the connection of a refused body that trickles in after its own deadline, not after the request timeout', async () => {
    const head = `POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`;
    const result = await send(head, Buffer.alloc(1000, 'a'), { dripMs: 100, giveUpMs: maxDrainMs + 3000 });
    expect(result.answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(result.closedAfterMs, 'the server closed the connection').toBeDefined();
    expect(result.closedAfterMs!).toBeGreaterThanOrEqual(maxDrainMs - 500);
    expect(result.closedAfterMs!).toBeLessThan(maxDrainMs + 1500);
  }, 20_000);

  it('answers Connection: close to a client that asked for it, delivers the answer, and closes once the body is read', async () => {
    const body = Buffer.alloc(4 * 1024 * 1024, 'a'); // four times BODY_LIMIT_BYTES
    const heads = {
      413: `POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t.adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      401: `POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    };
    for (const [status, head] of Object.entries(heads)) {
      for (let i = 0; i < 5; i++) {
        const result = await send(head, body, { giveUpMs: 4000 });
        expect(result.answer, `${status} attempt ${i}`).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
        expect(result.answer.toLowerCase()).toContain('connection: close');
        expect(result.reset, `${status} attempt ${i}: reset`).toBe(false);
        expect(result.closedAfterWriteMs, `${status} attempt ${i}: closed by the server`).toBeDefined();
        expect(result.closedAfterWriteMs!).toBeLessThan(1000);
      }
    }
  }, 60_000);
});
