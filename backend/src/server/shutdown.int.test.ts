import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/test-app.ts';

/**
 * Shutting down: a kept-alive connection that is busy when the server begins closing is not left
 * open once its answer is sent (it would hold the process for the whole keep-alive timeout, 72 s):
 * its answer says `Connection: close`.
 */
describe('shutting down with a busy kept-alive connection', () => {
  let t: TestApp;
  let port = 0;

  beforeAll(async () => {
    t = await createTestApp('pglite');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as { port: number }).port;
  });
  afterAll(() => t?.close());

  it('answers the request in flight with Connection: close, closes the connection, and stops at once', async () => {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));

    // Half of a body: the request is in flight when the server begins closing.
    const body = JSON.stringify({ query: 'kayaks' });
    socket.write(
      `POST /v1/knowledge/search HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t.userToken}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    const stopped = t.app.close();
    socket.write(body.slice(5));

    await closed;
    await stopped;
    const [head] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(/^connection: close$/im);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
