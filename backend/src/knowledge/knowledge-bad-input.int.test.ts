import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multipart, type MultipartField } from '../../test/multipart.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';

describe.each(drivers)('the knowledge base refuses hostile uploads and filters with 400, never 500, on %s', (driver) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(driver);
  });
  afterAll(() => t.close());

  let n = 0;
  const upload = (fields: Record<string, MultipartField>, name = `note-${n}.txt`) => {
    const { payload, headers } = multipart({ name, bytes: Buffer.from(`A note, number ${n++}.`), type: 'text/plain' }, fields);
    return t.app.inject({ method: 'POST', url: '/v1/knowledge/documents', headers: { ...bearer(t.userToken), ...headers }, payload });
  };
  const search = (body: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/v1/knowledge/search', headers: bearer(t.userToken), payload: body });
  const nested = `${'['.repeat(30_000)}${']'.repeat(30_000)}`;
  const deep = `{"a":${nested}}`;
  const dashCursor = Buffer.from(`2024-01-01T00:00:00.000Z|${'-'.repeat(36)}`).toString('base64url');

  const cases: [string, () => Promise<{ statusCode: number; json(): { error: { code: string; message: string } } }>, string][] = [
    ['a NUL character in the title field', () => upload({ title: 'Plans\0' }), 'INVALID_TEXT'],
    ['a NUL character in the source field', () => upload({ source: 'a\0b' }), 'INVALID_TEXT'],
    ['a NUL character in a tag', () => upload({ tags: 'ok,a\0b' }), 'INVALID_TEXT'],
    ['a NUL character in the file name', () => upload({}, 'a\0b.txt'), 'INVALID_TEXT'],
    ['a NUL character in metadata', () => upload({ metadata: '{"a":"\\u0000"}' }), 'INVALID_TEXT'],
    ['a "constructor" key in metadata', () => upload({ metadata: '{"constructor":"x"}' }), 'FORBIDDEN_KEY'],
    ['a "constructor.prototype" in metadata', () => upload({ metadata: '{"constructor":{"prototype":{"admin":true}}}' }), 'FORBIDDEN_KEY'],
    ['a "__proto__" key in metadata', () => upload({ metadata: '{"__proto__":{"admin":true}}' }), 'FORBIDDEN_KEY'],
    ['metadata nested 30,000 deep', () => upload({ metadata: deep }), 'VALIDATION_FAILED'],
    [
      'a field nested 30,000 deep in a JSON part',
      () => upload({ metadata: { value: nested, type: 'application/json' } }),
      'VALIDATION_FAILED',
    ],
    ['a search from year 0000', () => search({ query: 'x', filters: { dateRange: { start: '0000-01-01T00:00:00Z' } } }), 'INVALID_INPUT'],
    [
      'a search until year 0000',
      () => search({ query: 'x', mode: 'keyword', filters: { dateRange: { end: '0000-12-31T23:59:59+01:00' } } }),
      'INVALID_INPUT',
    ],
    [
      'a page cursor of 36 dashes',
      () => t.app.inject({ method: 'GET', url: `/v1/knowledge/documents?cursor=${dashCursor}`, headers: bearer(t.userToken) }),
      'VALIDATION_FAILED',
    ],
  ];
  it.each(cases)('%s', async (_name, send, code) => {
    const stored = fs.readdirSync(t.config.knowledge.storageDir).length;
    const documents = () => t.runtime.database.db.selectFrom('kb_documents').select('id').execute();
    const before = (await documents()).length;
    const response = await send();
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe(code);
    expect((await documents()).length).toBe(before);
    expect(fs.readdirSync(t.config.knowledge.storageDir)).toHaveLength(stored);
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('says so when a field is too long, rather than reading a truncated one', async () => {
    const response = await upload({ metadata: JSON.stringify({ notes: 'x'.repeat(70 * 1024) }) });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'VALIDATION_FAILED', message: 'The "metadata" field is longer than 64 KiB.' });
  });

  it('still takes ordinary fields and metadata, as text', async () => {
    const response = await upload({ title: 'Plans', tags: 'a,b', metadata: '{"team":{"name":"Ops","size":4},"shape":[1,[2,[3]]]}' });
    expect(response.statusCode).toBe(202);
    expect(response.json().document).toMatchObject({
      title: 'Plans',
      tags: ['a', 'b'],
      metadata: { team: { name: 'Ops', size: 4 }, shape: [1, [2, [3]]] },
    });
  });
});
