import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/test-app.ts';

describe('the API docs page', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('pglite');
  });
  afterAll(() => t.close());

  const get = (url: string) => t.app.inject({ method: 'GET', url });
  const expectPageHeaders = (headers: Record<string, unknown>, url: string) => {
    const csp = String(headers['content-security-policy']);
    expect(csp, url).toContain("frame-ancestors 'none'");
    expect(csp, url).toContain("script-src 'self'");
    expect(csp, url).toContain("style-src 'self'");
    expect(csp, url).toContain("object-src 'none'");
    expect(csp, url).not.toMatch(/unsafe-eval|unsafe-inline/);
    expect(headers['x-frame-options'], url).toBe('DENY');
    expect(headers['x-content-type-options'], url).toBe('nosniff');
    expect(headers['referrer-policy'], url).toBe('no-referrer');
  };

  it('carries a Content-Security-Policy and refuses to be framed, on the page and everything it loads', async () => {
    for (const page of ['/docs', '/docs/']) {
      const response = await get(page);
      expect(response.statusCode).toBe(200);
      expectPageHeaders(response.headers, page);
      const html = response.body;
      // Under script-src 'self' the page must run no inline script and no inline handler.
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.length).toBeGreaterThan(0);
      for (const [, attributes, body] of scripts) {
        expect(attributes).toMatch(/\bsrc="/);
        expect(body?.trim()).toBe('');
      }
      expect(html).not.toMatch(/\son[a-z]+=/i);
      expect(html).not.toMatch(/<style\b|\sstyle=/i);
      // Everything it references is this origin's, and comes with a type nosniff accepts.
      const base = new URL(page, 'http://localhost');
      const references = [...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"|<link\b[^>]*\bhref="([^"]+)"/g)].map((m) => m[1] ?? m[2] ?? '');
      for (const reference of references) {
        const url = new URL(reference, base);
        expect(url.origin, reference).toBe(base.origin);
        const asset = await get(url.pathname);
        expect(asset.statusCode, url.pathname).toBe(200);
        expectPageHeaders(asset.headers, url.pathname);
        const type = String(asset.headers['content-type']);
        if (url.pathname.endsWith('.js')) expect(type, url.pathname).toMatch(/javascript/);
        if (url.pathname.endsWith('.css')) expect(type, url.pathname).toMatch(/text\/css/);
      }
    }
    const spec = await get('/docs/json');
    expect(spec.statusCode).toBe(200);
    expectPageHeaders(spec.headers, '/docs/json');
    expect(spec.json().openapi).toMatch(/^3\./);
  });
});
