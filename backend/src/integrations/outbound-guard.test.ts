import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundGuard } from './outbound-guard.ts';

/** A server on 127.0.0.1: `/ok` answers, `/to?url=…` redirects there. */
let server: http.Server;
let port: number;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/to') {
      res.writeHead(302, { location: url.searchParams.get('url')! });
      return res.end();
    }
    res.end('reached');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const refused = expect.objectContaining({ code: 'OUTBOUND_REFUSED' });

describe('the outbound-request guard', () => {
  it('refuses loopback, private, link-local and metadata addresses in any spelling', async () => {
    const guard = new OutboundGuard();
    const urls = [
      `http://127.0.0.1:${port}/ok`,
      `http://2130706433:${port}/ok`, // 127.0.0.1 as a decimal
      `http://0x7f000001:${port}/ok`, // and as hex
      `http://0x7f.1:${port}/ok`,
      `http://[::ffff:7f00:1]:${port}/ok`, // IPv4-mapped IPv6
      'http://[::7f00:1]/', // and IPv4-compatible
      'http://[::a9fe:a9fe]/',
      `http://[::1]:${port}/ok`,
      `http://localhost:${port}/ok`, // by name, after DNS resolution
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/',
      'http://10.0.0.1/',
      'http://192.168.1.1/',
      'http://100.100.100.200/', // carrier-grade NAT (a cloud metadata address too)
      'http://0.0.0.0/',
    ];
    for (const url of urls) {
      await expect(guard.checkUrl(url), url).rejects.toEqual(refused);
      await expect(guard.fetch(url), url).rejects.toEqual(refused);
    }
    await guard.close();
  });

  it('never tells the user what a host name resolves to; the server log gets the address', async () => {
    const logged: Array<{ host: string; address: string; range: string }> = [];
    const guard = new OutboundGuard({ onRefused: (refusal) => logged.push(refusal) });
    for (const attempt of [guard.checkUrl(`http://localhost:${port}/ok`), guard.fetch(`http://localhost:${port}/ok`)]) {
      const error = await attempt.then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string; details: unknown },
      );
      expect(error).toMatchObject({
        code: 'OUTBOUND_REFUSED',
        message: expect.stringContaining('"localhost" are refused: it resolves to a non-public address'),
      });
      expect(`${error!.message} ${JSON.stringify(error!.details)}`).not.toMatch(/127\.0\.0\.1|::1|loopback/);
    }
    expect(logged.length).toBeGreaterThanOrEqual(2);
    expect(logged[0]).toMatchObject({ host: 'localhost', address: expect.stringMatching(/^(127\.0\.0\.1|::1)$/), range: 'loopback' });
    // An address the user wrote themselves is named, with its kind.
    await expect(guard.checkUrl('http://10.0.0.1/')).rejects.toMatchObject({
      message: expect.stringContaining('10.0.0.1 are refused: it is a private address'),
    });
    await guard.close();
  });

  it('refuses other schemes and URLs with credentials', async () => {
    const guard = new OutboundGuard();
    for (const url of ['file:///etc/passwd', 'ftp://example.com/', 'gopher://example.com/', 'http://user:pass@example.com/', 'not a url']) {
      await expect(guard.checkUrl(url), url).rejects.toEqual(refused);
    }
    await guard.close();
  });

  it('lets allow-listed addresses through, and checks every redirect hop again', async () => {
    const guard = new OutboundGuard({ allowList: ['127.0.0.1'] });
    expect(await (await guard.fetch(`http://127.0.0.1:${port}/ok`)).text()).toBe('reached');
    expect(await (await guard.fetch(`http://2130706433:${port}/ok`)).text()).toBe('reached');
    expect(await (await guard.fetch(`http://127.0.0.1:${port}/to?url=${encodeURIComponent(`http://127.0.0.1:${port}/ok`)}`)).text()).toBe(
      'reached',
    );
    for (const target of [
      `http://127.0.0.2:${port}/ok`,
      'http://169.254.169.254/latest/meta-data/',
      `http://[::ffff:7f00:2]:${port}/ok`,
      `http://2130706434:${port}/ok`,
      `http://[::1]:${port}/ok`,
    ]) {
      await expect(guard.fetch(`http://127.0.0.1:${port}/to?url=${encodeURIComponent(target)}`), target).rejects.toEqual(refused);
    }
    await guard.close();
  });

  it('takes CIDR ranges and host names', async () => {
    const guard = new OutboundGuard({ allowList: ['127.0.0.0/8', 'localhost'] });
    expect(await (await guard.fetch(`http://127.0.0.1:${port}/ok`)).text()).toBe('reached');
    expect((await guard.checkUrl(`http://localhost:${port}/ok`)).hostname).toBe('localhost');
    await expect(guard.checkUrl('http://169.254.169.254/')).rejects.toEqual(refused);
    await guard.close();
  });
});
