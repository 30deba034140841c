import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docx, docxBomb, imageOnlyPdf, lyingDocxBomb, nestedHtml, pdfBomb, textPdf } from '../../test/documents.ts';
import { multipart } from '../../test/multipart.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';

describe.each(drivers)('knowledge base over HTTP on %s', (driver) => {
  let t: TestApp;
  let otherToken: string;
  beforeAll(async () => {
    t = await createTestApp(driver, { KB_MAX_UPLOAD_BYTES: String(256 * 1024) });
    otherToken = (await t.runtime.users.create({ email: 'other@example.test' }, { userId: null, ip: null })).token;
  });
  afterAll(() => t.close());

  const upload = (token: string, file: Parameters<typeof multipart>[0], fields?: Record<string, string>) => {
    const { payload, headers } = multipart(file, fields);
    return t.app.inject({ method: 'POST', url: '/v1/knowledge/documents', headers: { ...bearer(token), ...headers }, payload });
  };
  const addJson = (token: string, body: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/v1/knowledge/documents', headers: bearer(token), payload: body });
  const search = (token: string, body: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/v1/knowledge/search', headers: bearer(token), payload: body });
  const get = (token: string, id: string) => t.app.inject({ method: 'GET', url: `/v1/knowledge/documents/${id}`, headers: bearer(token) });

  it('takes JSON, processes it in the background, and finds it', async () => {
    const added = await addJson(t.userToken, {
      title: 'Sourdough',
      content: 'Sourdough bread rises with a wild yeast starter.\n\nFeed the starter flour and water every day.',
      tags: ['baking'],
      source: 'notebook',
    });
    expect(added.statusCode).toBe(202);
    expect(added.json().document.status).toBe('pending');
    await t.runtime.knowledge.idle();
    const document = (await get(t.userToken, added.json().document.id)).json().document;
    expect(document).toMatchObject({
      status: 'completed',
      chunkCount: 1,
      embeddingModel: 'local:hashing',
      error: null,
      source: 'notebook',
    });

    const found = await search(t.userToken, { query: 'how do I feed a sourdough startr?' });
    expect(found.statusCode).toBe(200);
    expect(found.json().results[0]).toMatchObject({ documentId: document.id, title: 'Sourdough' });
    expect(found.json().results[0].similarity).toBeGreaterThan(0.2);
  });

  it('answers 200 with the existing document when the same content comes again', async () => {
    const body = { title: 'Twice', content: 'The same words, uploaded twice.' };
    const first = await addJson(t.userToken, body);
    const second = await addJson(t.userToken, body);
    expect(second.statusCode).toBe(200);
    expect(second.json().document.id).toBe(first.json().document.id);
  });

  it('reads PDF, DOCX, HTML and Markdown uploads by their content', async () => {
    const pdf = await upload(t.userToken, { name: 'guide.pdf', bytes: textPdf(['Glacier hiking needs crampons and a rope team.']) });
    const word = await upload(t.userToken, { name: 'notes.docx', bytes: await docx(['Quarterly budget review for the marketing team.']) });
    const html = await upload(
      t.userToken,
      {
        name: 'page.html',
        bytes: Buffer.from(
          '<!doctype html><html><body><h1>Tide pools</h1><p>Anemones close at low tide.</p><script>x()</script></body></html>',
        ),
      },
      { tags: 'ocean,nature' },
    );
    for (const response of [pdf, word, html]) expect(response.statusCode).toBe(202);
    expect(pdf.json().document.contentType).toBe('application/pdf');
    expect(word.json().document.contentType).toBe('application/vnd.openxmlformats-officedocument.wordprocessingml.document');
    expect(html.json().document).toMatchObject({ contentType: 'text/html', tags: ['ocean', 'nature'] });
    await t.runtime.knowledge.idle();
    const crampons = (await search(t.userToken, { query: 'crampons', mode: 'keyword' })).json().results;
    expect(crampons[0].documentId).toBe(pdf.json().document.id);
    const anemones = (await search(t.userToken, { query: 'anemones', filters: { tags: ['ocean'] } })).json().results;
    expect(anemones.map((r: { documentId: string }) => r.documentId)).toEqual([html.json().document.id]);
    expect(anemones[0].content).not.toContain('x()');
  });

  it("never shows one user another user's documents", async () => {
    const secret = await addJson(otherToken, { title: 'Private', content: 'Zanzibar expedition budget and itinerary.' });
    await t.runtime.knowledge.idle();
    for (const mode of ['hybrid', 'vector', 'keyword']) {
      const results = (await search(t.userToken, { query: 'Zanzibar expedition budget', mode, limit: 100 })).json().results;
      expect(results.map((r: { documentId: string }) => r.documentId)).not.toContain(secret.json().document.id);
    }
    expect((await get(t.userToken, secret.json().document.id)).statusCode).toBe(404);
    const put = await t.app.inject({
      method: 'PUT',
      url: `/v1/knowledge/documents/${secret.json().document.id}`,
      headers: bearer(t.userToken),
      payload: { title: 'Mine now' },
    });
    expect(put.statusCode).toBe(404);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/v1/knowledge/documents/${secret.json().document.id}`,
      headers: bearer(t.userToken),
    });
    expect(del.statusCode).toBe(404);
    expect((await search(otherToken, { query: 'Zanzibar' })).json().results[0].documentId).toBe(secret.json().document.id);
  });

  it('redacts credentials before chunking and counts them', async () => {
    const added = await addJson(t.userToken, {
      title: 'Ops notes',
      content:
        'Deploy with api_key=sk-proj-abcdefghijklmnopqrstuvwxyz123456 and password: hunter2hunter2.\n\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----',
    });
    await t.runtime.knowledge.idle();
    expect((await get(t.userToken, added.json().document.id)).json().document.redactions).toBe(3);
    const results = (
      await search(t.userToken, { query: 'deploy api key password', filters: { documentIds: [added.json().document.id] } })
    ).json().results;
    expect(results[0].content).not.toMatch(/sk-proj|hunter2|MIIEow/);
    expect(results[0].content).toContain('[REDACTED]');
  });

  it('replaces content: search sees the new version once it is complete', async () => {
    const added = (await addJson(t.userToken, { title: 'Changing', content: 'Original text mentions photosynthesis in leaves.' })).json()
      .document;
    await t.runtime.knowledge.idle();
    const put = await t.app.inject({
      method: 'PUT',
      url: `/v1/knowledge/documents/${added.id}`,
      headers: bearer(t.userToken),
      payload: { content: 'Replacement text covers volcanic eruptions instead.', tags: ['geo'] },
    });
    expect(put.statusCode).toBe(200);
    expect(put.json().document).toMatchObject({ status: 'pending', version: 2, tags: ['geo'] });
    // Every search while the new version is processed sees exactly one version: never both, never none.
    const seen = new Set<string>();
    for (;;) {
      const status = (await get(t.userToken, added.id)).json().document.status;
      const results = (
        await search(t.userToken, { query: 'photosynthesis volcanic', mode: 'keyword', filters: { documentIds: [added.id] } })
      ).json().results;
      expect(results).toHaveLength(1);
      seen.add(results[0].content);
      if (status === 'completed') break;
    }
    await t.runtime.knowledge.idle();
    const after = (
      await search(t.userToken, { query: 'photosynthesis volcanic', mode: 'keyword', filters: { documentIds: [added.id] } })
    ).json().results;
    expect(after).toHaveLength(1);
    expect(after[0].content).toContain('volcanic');
  });

  it('deletes a document with its chunks and its stored file', async () => {
    const added = (await upload(t.userToken, { name: 'gone.txt', bytes: Buffer.from('Ephemeral note about lighthouse keepers.') })).json()
      .document;
    await t.runtime.knowledge.idle();
    expect(fs.readdirSync(t.config.knowledge.storageDir)).toContain(`${added.id}.v1`);
    const del = await t.app.inject({ method: 'DELETE', url: `/v1/knowledge/documents/${added.id}`, headers: bearer(t.userToken) });
    expect(del.statusCode).toBe(204);
    expect(fs.readdirSync(t.config.knowledge.storageDir)).not.toContain(`${added.id}.v1`);
    expect((await search(t.userToken, { query: 'lighthouse keepers', mode: 'keyword' })).json().results).toHaveLength(0);
    expect((await get(t.userToken, added.id)).statusCode).toBe(404);
  });

  it('lists documents by page, status and tag', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/v1/knowledge/documents?limit=2', headers: bearer(t.userToken) });
    expect(page.json().documents).toHaveLength(2);
    const next = await t.app.inject({
      method: 'GET',
      url: `/v1/knowledge/documents?limit=2&cursor=${page.json().nextCursor}`,
      headers: bearer(t.userToken),
    });
    const ids = [...page.json().documents, ...next.json().documents].map((d: { id: string }) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    const tagged = await t.app.inject({
      method: 'GET',
      url: '/v1/knowledge/documents?tag=ocean&status=completed',
      headers: bearer(t.userToken),
    });
    expect(tagged.json().documents.map((d: { title: string }) => d.title)).toEqual(['page.html']);
  });

  describe('bad input: a 4xx with a code, and nothing stored', () => {
    const cases: Array<[string, () => Promise<{ statusCode: number; json(): { error: { code: string } } }>, number, string]> = [
      ['whitespace-only text', () => addJson(t.userToken, { title: 'Blank', content: ' \n\t ' }), 422, 'DOCUMENT_EMPTY'],
      ['a PDF with no text layer', () => upload(t.userToken, { name: 'scan.pdf', bytes: imageOnlyPdf() }), 422, 'DOCUMENT_EMPTY'],
      [
        'binary bytes named .txt',
        () =>
          upload(t.userToken, {
            name: 'notes.txt',
            bytes: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]),
          }),
        415,
        'UNSUPPORTED_DOCUMENT_TYPE',
      ],
      [
        'invalid UTF-8',
        () => upload(t.userToken, { name: 'latin1.txt', bytes: Buffer.from('caf\xe9 cr\xe8me', 'latin1') }),
        422,
        'DOCUMENT_UNREADABLE',
      ],
      [
        'a malformed .docx',
        async () => upload(t.userToken, { name: 'broken.docx', bytes: (await docx(['x'])).subarray(0, 200) }),
        422,
        'DOCUMENT_UNREADABLE',
      ],
      [
        'a .docx bomb',
        async () => upload(t.userToken, { name: 'bomb.docx', bytes: await docxBomb(100 * 1024 * 1024) }),
        422,
        'DOCUMENT_TOO_COMPLEX',
      ],
      [
        'a file over the size limit',
        () => upload(t.userToken, { name: 'big.txt', bytes: Buffer.alloc(300 * 1024, 'a') }),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      ['an empty query', () => search(t.userToken, { query: '  ' }), 400, 'VALIDATION_FAILED'],
      ['a 50,000-character query', () => search(t.userToken, { query: 'a'.repeat(50_000) }), 400, 'VALIDATION_FAILED'],
      ['limit 0', () => search(t.userToken, { query: 'x', limit: 0 }), 400, 'VALIDATION_FAILED'],
      ['limit 10,000', () => search(t.userToken, { query: 'x', limit: 10_000 }), 400, 'VALIDATION_FAILED'],
      ['threshold above 1', () => search(t.userToken, { query: 'x', threshold: 1.5 }), 400, 'VALIDATION_FAILED'],
      ['an unknown filter key', () => search(t.userToken, { query: 'x', filters: { owner: 'someone' } }), 400, 'VALIDATION_FAILED'],
      [
        'a chunk size out of bounds',
        () => addJson(t.userToken, { title: 'Tiny', content: 'Some words here.', chunkSize: 5 }),
        400,
        'VALIDATION_FAILED',
      ],
      // JSON numbers are numbers: null is not 0, nor "100" a hundred (a multipart form's text is read as one).
      [
        'a chunk size as text in JSON',
        () => addJson(t.userToken, { title: 'Text', content: 'Some words here.', chunkSize: '100' }),
        400,
        'VALIDATION_FAILED',
      ],
      [
        'an overlap of null in JSON',
        () => addJson(t.userToken, { title: 'Null', content: 'Some words here.', overlap: null }),
        400,
        'VALIDATION_FAILED',
      ],
      [
        'a multipart body cut short',
        () => {
          const { payload, headers } = multipart({ name: 'notes.txt', bytes: Buffer.from('Some words here.') }, { title: 'Cut' });
          return t.app.inject({
            method: 'POST',
            url: '/v1/knowledge/documents',
            headers: { ...bearer(t.userToken), ...headers },
            payload: payload.subarray(0, payload.length - 20),
          });
        },
        400,
        'VALIDATION_FAILED',
      ],
    ];
    it.each(cases)('%s', async (_name, send, status, code) => {
      const before = fs.readdirSync(t.config.knowledge.storageDir).length;
      const { count } = await t.runtime.database.db
        .selectFrom('kb_documents')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .executeTakeFirstOrThrow();
      const response = await send();
      expect(response.statusCode).toBe(status);
      expect(response.json().error.code).toBe(code);
      expect(fs.readdirSync(t.config.knowledge.storageDir)).toHaveLength(before);
      const after = await t.runtime.database.db
        .selectFrom('kb_documents')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .executeTakeFirstOrThrow();
      expect(after.count).toBe(count);
      expect((await t.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
    });
  });
});

/** Runs `work`, sampling this process's resident memory every 5 ms: how long it took and how far memory rose. */
async function measured<T>(work: () => Promise<T>): Promise<{ result: T; seconds: number; growthMb: number }> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  const started = performance.now();
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, seconds: (performance.now() - started) / 1000, growthMb: (peak - before) / 1024 / 1024 };
  } finally {
    clearInterval(sampler);
  }
}

describe.each(drivers)("hostile documents fail alone, quickly, and outside the server's memory on %s", (driver) => {
  let t: TestApp;
  let otherToken: string;
  const upload = (token: string, file: Parameters<typeof multipart>[0]) => {
    const { payload, headers } = multipart(file);
    return t.app.inject({ method: 'POST', url: '/v1/knowledge/documents', headers: { ...bearer(token), ...headers }, payload });
  };
  const documentCount = async () =>
    Number(
      (
        await t.runtime.database.db
          .selectFrom('kb_documents')
          .select((eb) => eb.fn.countAll<string>().as('count'))
          .executeTakeFirstOrThrow()
      ).count,
    );

  beforeAll(async () => {
    t = await createTestApp(driver, { KB_READ_TIMEOUT_MS: '1500', KB_WORKERS: '2', KB_MAX_TEXT_CHARS: '65536' });
    otherToken = (await t.runtime.users.create({ email: 'bystander@example.test' }, { userId: null, ip: null })).token;
    // Both reader processes up, as on a server that has read documents before.
    await Promise.all([
      upload(t.userToken, { name: 'a.txt', bytes: Buffer.from('Warming up one reader.') }),
      upload(otherToken, { name: 'b.txt', bytes: Buffer.from('Warming up the other.') }),
    ]);
    await t.runtime.knowledge.idle();
  });
  afterAll(() => t.close());

  const bombs: Array<[string, () => Promise<{ name: string; bytes: Buffer }>, string]> = [
    [
      'a .docx that declares 1,000 bytes and unpacks to 1 GiB',
      async () => ({ name: 'bomb.docx', bytes: await lyingDocxBomb(1024 * 1024 * 1024) }),
      'DOCUMENT_UNREADABLE',
    ],
    [
      'a 270 KB PDF whose content stream unpacks to 94 MB',
      async () => ({ name: 'bomb.pdf', bytes: pdfBomb(94_000_000) }),
      'DOCUMENT_TOO_COMPLEX',
    ],
    ['HTML of 100,000 nested <div>s', async () => ({ name: 'deep.html', bytes: nestedHtml(100_000) }), 'DOCUMENT_TOO_COMPLEX'],
  ];
  it.each(bombs)("%s is refused within a second, storing nothing, while the server's memory stays flat", async (_name, build, code) => {
    const file = await build();
    const before = await documentCount();
    const { result: response, seconds, growthMb } = await measured(() => upload(t.userToken, file));
    expect(response.statusCode).toBe(422);
    expect(response.json().error.code).toBe(code);
    expect(seconds).toBeLessThan(1);
    expect(growthMb).toBeLessThan(100);
    expect(await documentCount()).toBe(before);
    expect((await t.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
  });

  it('refuses a small .docx whose text is longer than KB_MAX_TEXT_CHARS, storing nothing', async () => {
    // About 100,000 characters of text in a file of a few kilobytes: within every byte limit.
    const bytes = await docx(Array.from({ length: 2000 }, (_, n) => `Paragraph ${n} of a report that says the same thing again.`));
    expect(bytes.byteLength).toBeLessThan(20 * 1024);
    const before = await documentCount();
    const response = await upload(t.userToken, { name: 'long.docx', bytes });
    expect(response.statusCode).toBe(422);
    expect(response.json().error).toMatchObject({
      code: 'DOCUMENT_TOO_COMPLEX',
      message: expect.stringMatching(/longer than 65,536 characters \(KB_MAX_TEXT_CHARS\)/),
    });
    expect(await documentCount()).toBe(before);
  });

  it("one user's slow documents neither fail nor delay another user's 43-byte one; each has its own time", async () => {
    // Within the inflate budget: pdf.js spends seconds on each, past the 1.5 s limit.
    const sent = performance.now();
    const slow = [1, 2].map((n) =>
      upload(t.userToken, { name: `slow-${n}.pdf`, bytes: pdfBomb(15 * 1024 * 1024 + n) }).then((r) => ({
        status: r.statusCode,
        error: r.json().error,
        seconds: (performance.now() - sent) / 1000,
      })),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const note = Buffer.from('Tide tables for the harbour, printed weekly');
    expect(note.byteLength).toBe(43);
    const { result: small, seconds } = await measured(() => upload(otherToken, { name: 'note.txt', bytes: note }));
    expect(small.statusCode).toBe(202);
    expect(seconds).toBeLessThan(1);
    const id = small.json().document.id;
    for (let tries = 0; ; tries++) {
      const document = (await t.app.inject({ method: 'GET', url: `/v1/knowledge/documents/${id}`, headers: bearer(otherToken) })).json()
        .document;
      if (document.status === 'completed') break;
      expect(document.status).not.toBe('failed');
      expect(tries).toBeLessThan(100);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const [first, second] = await Promise.all(slow);
    for (const outcome of [first!, second!]) {
      expect(outcome.status).toBe(422);
      expect(outcome.error).toMatchObject({ code: 'DOCUMENT_TOO_COMPLEX', message: expect.stringMatching(/longer than 1\.5 s/) });
    }
    // The second waited for the first (one per user), then had its own 1.5 s.
    expect(Math.max(first!.seconds, second!.seconds)).toBeGreaterThan(3);
  });
});

describe('knowledge base without pgvector (a PostgreSQL database whose role may not create it)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('postgres', {}, { withoutPgvector: true });
  });
  afterAll(() => t.close());

  it('answers 503 FEATURE_UNAVAILABLE with the fix in the message, and everything else works', async () => {
    expect(await t.runtime.migrations.vectorAvailable()).toBe(false);
    expect((await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(t.userToken) })).statusCode).toBe(200);
    const health = (await t.app.inject({ method: 'GET', url: '/health' })).json();
    expect(health.features.knowledgeBase).toMatchObject({ enabled: true, available: false });
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/knowledge/search',
      headers: bearer(t.userToken),
      payload: { query: 'x' },
    });
    expect(response.statusCode).toBe(503);
    expect(response.json().error).toMatchObject({ code: 'FEATURE_UNAVAILABLE' });
    expect(response.json().error.message).toMatch(/pgvector/);
  });
});

describe('knowledge base switched off', () => {
  it('answers 503 FEATURE_UNAVAILABLE', async () => {
    const t = await createTestApp('pglite', { FEATURE_KNOWLEDGE_BASE: 'false' });
    try {
      const response = await t.app.inject({ method: 'GET', url: '/v1/knowledge/documents', headers: bearer(t.userToken) });
      expect(response.statusCode).toBe(503);
      expect(response.json().error.message).toMatch(/FEATURE_KNOWLEDGE_BASE=false/);
    } finally {
      await t.close();
    }
  });
});
