import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/test-app.ts';

/**
 * HTTP_MAX_CONNECTIONS_PER_ADDRESS, on a server listening on 127.0.0.1: one client cannot hold
 * every connection the server accepts, and a proxy that TRUST_PROXY trusts is not capped.
 */
describe('open connections per client address', () => {
  let t: TestApp | undefined;
  const sockets: net.Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await t?.close();
    t = undefined;
  });

  const listen = async (env: Record<string, string>) => {
    t = await createTestApp('pglite', { HTTP_MAX_CONNECTIONS_PER_ADDRESS: '3', ...env });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    return (t.app.server.address() as { port: number }).port;
  };

  /** A kept-alive connection that asks for /health on demand; resolves with the status, or 'closed'. */
  const connect = (port: number) => {
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    let received = '';
    let closed = false;
    const waiters = new Set<() => void>();
    socket.on('data', (chunk) => ((received += chunk.toString()), waiters.forEach((wake) => wake())));
    socket.on('error', () => undefined);
    socket.on('close', () => ((closed = true), waiters.forEach((wake) => wake())));
    const connected = new Promise((resolve) => socket.once('connect', resolve));
    return {
      socket,
      async health(): Promise<number | 'closed'> {
        await connected;
        const from = received.length;
        if (!closed) socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        return new Promise((resolve) => {
          const check = () => {
            const status = /^HTTP\/1\.1 (\d{3}) [^]*?\r\n\r\n[^]*?\}/.exec(received.slice(from));
            if (status) resolve(Number(status[1]));
            else if (closed) resolve('closed');
            else return;
            waiters.delete(check);
          };
          waiters.add(check);
          check();
        });
      },
    };
  };

  it('refuses a fourth connection from one address while the first three keep working, and takes a new one once one closes', async () => {
    const port = await listen({});
    const first = [connect(port), connect(port), connect(port)];
    for (const connection of first) expect(await connection.health()).toBe(200);
    const fourth = connect(port);
    expect(await fourth.health()).toBe('closed');
    for (const connection of first) expect(await connection.health()).toBe(200);
    first[0]!.socket.destroy();
    await expect.poll(async () => connect(port).health()).toBe(200);
  });

  it('does not cap the address of a trusted proxy', async () => {
    const port = await listen({ TRUST_PROXY: '127.0.0.1' });
    const connections = Array.from({ length: 6 }, () => connect(port));
    for (const connection of connections) expect(await connection.health()).toBe(200);
  });
});
