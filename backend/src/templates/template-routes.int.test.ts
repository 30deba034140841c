import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { loadLibrary } from './template-library.ts';

const definition = {
  slug: 'standup-notes',
  name: 'Standup notes',
  description: 'Writes the standup summary for a team.',
  category: 'Reporting',
  tags: ['team', 'standup'],
  systemPrompt: 'Summarise the standup of {{team}}.',
  variables: [{ name: 'team', type: 'string', required: true }],
  steps: [{ instruction: 'Write the summary.' }],
  examples: ['summarise our standup'],
};

describe.each(['pglite', 'postgres'] as const)('templates over HTTP (%s)', (driver) => {
  let t: TestApp;
  let otherToken: string;
  beforeAll(async () => {
    t = await createTestApp(driver);
    otherToken = (await t.runtime.users.create({ email: 'other@example.test' }, { userId: null, ip: null })).token;
  });
  afterAll(() => t.close());

  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, token = t.userToken) =>
    t.app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });
  const list = async (query = '', token = t.userToken) =>
    (await call('GET', `/v1/templates${query}`, undefined, token)).json().templates as Array<Record<string, unknown>>;
  const builtIn = async (slug: string) => (await list()).find((template) => template.slug === slug)!;

  it('lists the built-in library, read-only, with availability against connected integrations', async () => {
    const templates = await list();
    expect(templates.length).toBe(loadLibrary().length);
    expect(templates.every((template) => template.builtIn === true && template.version === 1)).toBe(true);
    // No user has connections yet: a template that requires one is unavailable and says which.
    expect(await builtIn('email-triage')).toMatchObject({ available: false, missingIntegrations: ['gmail'] });
    expect(await builtIn('document-qa')).toMatchObject({ available: true, missingIntegrations: [] });
    const available = await list('?available=true');
    expect(available.map((template) => template.slug).sort()).toEqual([
      'document-qa',
      'meeting-notes',
      'research-summary',
      'support-reply',
    ]);
    expect((await list('?available=false')).length).toBe(templates.length - available.length);
    expect((await list('?category=engineering')).map((template) => template.slug).sort()).toEqual(['issue-triage', 'pull-request-review']);
    expect((await list('?tag=slack')).map((template) => template.slug)).toEqual(['channel-digest']);
  });

  it('creates, versions and deletes a template of your own, and frees its slug', async () => {
    const created = await call('POST', '/v1/templates', definition);
    expect(created.statusCode).toBe(201);
    const { id } = created.json().template;
    expect(created.json().template).toMatchObject({ ...definition, version: 1, builtIn: false });

    const updated = await call('PUT', `/v1/templates/${id}`, { ...definition, description: 'Writes a shorter standup summary.' });
    expect(updated.json().template).toMatchObject({ id, version: 2, description: 'Writes a shorter standup summary.' });
    expect((await call('GET', `/v1/templates/${id}`)).json().template.version).toBe(2);
    expect((await call('GET', `/v1/templates/${id}?version=1`)).json().template.description).toBe(definition.description);
    expect((await call('GET', `/v1/templates/standup-notes`)).json().template.id).toBe(id);
    expect((await call('GET', `/v1/templates/${id}/versions`)).json().versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect((await call('GET', `/v1/templates/${id}?version=9`)).json().error).toMatchObject({
      code: 'TEMPLATE_NOT_FOUND',
      message: 'This template has no version 9.',
    });

    expect((await call('POST', '/v1/templates', definition)).json().error.code).toBe('TEMPLATE_SLUG_TAKEN');
    expect((await call('DELETE', `/v1/templates/${id}`)).statusCode).toBe(204);
    expect((await call('GET', `/v1/templates/${id}`)).statusCode).toBe(404);
    expect((await list()).some((template) => template.id === id)).toBe(false);
    // The slug is free again once the template is gone.
    expect((await call('POST', '/v1/templates', definition)).statusCode).toBe(201);
  });

  it("answers 404 for another user's template and 403 TEMPLATE_READ_ONLY for a built-in", async () => {
    const { id } = (await call('POST', '/v1/templates', { ...definition, slug: 'private-one' })).json().template;
    for (const [method, url, body] of [
      ['GET', `/v1/templates/${id}`, undefined],
      ['PUT', `/v1/templates/${id}`, definition],
      ['DELETE', `/v1/templates/${id}`, undefined],
      ['POST', `/v1/templates/${id}/prompt`, { variables: { team: 'x' } }],
    ] as const) {
      const response = await call(method, url, body, otherToken);
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(response.json().error.code).toBe('TEMPLATE_NOT_FOUND');
    }
    expect((await list('', otherToken)).some((template) => template.id === id)).toBe(false);

    const triage = await builtIn('email-triage');
    const put = await call('PUT', `/v1/templates/${triage.id}`, { ...definition, slug: 'email-triage' });
    expect(put.statusCode).toBe(403);
    expect(put.json().error.code).toBe('TEMPLATE_READ_ONLY');
    expect((await call('DELETE', `/v1/templates/${triage.id}`)).json().error.code).toBe('TEMPLATE_READ_ONLY');
    expect((await call('GET', `/v1/templates/${triage.id}`)).json().template.version).toBe(1);
  });

  it('gives every concurrent change its own version', async () => {
    const { id } = (await call('POST', '/v1/templates', { ...definition, slug: 'busy-one' })).json().template;
    const updates = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        call('PUT', `/v1/templates/${id}`, { ...definition, slug: 'busy-one', description: `Edit ${i}.` }),
      ),
    );
    expect(updates.map((u) => u.json().template.version).sort()).toEqual([2, 3, 4, 5, 6]);
    const versions = (await call('GET', `/v1/templates/${id}/versions`)).json().versions;
    expect(versions.map((v: { version: number }) => v.version)).toEqual([6, 5, 4, 3, 2, 1]);
  });

  it('refuses a template that does not validate, naming the problem, and stores nothing', async () => {
    const rows = async () => {
      const { db } = t.runtime.database;
      const templates = await db
        .selectFrom('templates')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow();
      const versions = await db
        .selectFrom('template_versions')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow();
      return [Number(templates.n), Number(versions.n)];
    };
    const before = await rows();
    const cases: Array<[unknown, RegExp]> = [
      [
        { ...definition, slug: 'bad-1', systemPrompt: 'Hello {{name}}' },
        /systemPrompt: uses \{\{name\}\}, which is not declared in variables/,
      ],
      [{ ...definition, slug: 'bad-2', systemPrompt: "{{constructor.constructor('return process')()}}" }, /not a variable name/],
      [{ ...definition, slug: 'bad-3', systemPrompt: '{{{team}}}' }, /unescaped output/],
      [{ ...definition, slug: 'bad-4', variables: [{ name: 'team', type: 'colour' }] }, /variables\[0\]\.type: unknown type "colour"/],
      [{ ...definition, slug: 'Bad Slug' }, /slug: must be lower-case/],
      [{ name: 'No slug' }, /slug/],
      [
        { ...definition, slug: 'bad-5', systemPrompt: `${'{{#team}}'.repeat(11)}x${'{{/team}}'.repeat(11)}` },
        /sections nest more than 10 deep/,
      ],
    ];
    for (const [body, message] of cases) {
      const response = await call('POST', '/v1/templates', body);
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('TEMPLATE_INVALID');
      expect(response.json().error.message).toMatch(message);
    }
    // Text no database column can hold is refused before anything is written, wherever it sits.
    for (const text of ['\\u0000', '\\ud800']) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/v1/templates',
        headers: { ...bearer(t.userToken), 'content-type': 'application/json' },
        payload: JSON.stringify({ ...definition, slug: 'bad-text' }).replace('Writes the standup', `Writes the ${text} standup`),
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('INVALID_TEXT');
    }
    expect(await rows()).toEqual(before);
  });

  it('generates the prompt: resolved variables, tools, missing integrations, and a cache that a new version bypasses', async () => {
    const { id } = (await call('POST', '/v1/templates', { ...definition, slug: 'cached-one' })).json().template;
    const first = await call('POST', `/v1/templates/${id}/prompt`, { variables: { team: 'Platform' } });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({
      variables: { team: 'Platform' },
      tools: [],
      missingIntegrations: [],
      templateVersion: 1,
      cache: 'miss',
    });
    expect(first.json().systemPrompt).toMatch(/^Summarise the standup of <value name="team">Platform<\/value>\./);
    expect(first.json().systemPrompt).toContain('- User: <value name="userName">User</value>');
    const second = await call('POST', `/v1/templates/${id}/prompt`, { variables: { team: 'Platform' } });
    expect(second.json().cache).toBe('hit');
    expect(second.json().systemPrompt).toBe(first.json().systemPrompt);

    await call('PUT', `/v1/templates/${id}`, {
      ...definition,
      slug: 'cached-one',
      systemPrompt: 'Summarise briefly the standup of {{team}}.',
    });
    const third = await call('POST', `/v1/templates/${id}/prompt`, { variables: { team: 'Platform' } });
    expect(third.json()).toMatchObject({ cache: 'miss', templateVersion: 2 });
    expect(third.json().systemPrompt).toMatch(/^Summarise briefly/);
    expect((await call('POST', `/v1/templates/${id}/prompt`, { variables: { team: 'Platform' }, version: 1 })).json().cache).toBe('hit');

    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^agentry_prompt_cache_hits_total 2$/m);
    expect(metrics.body).toMatch(/^agentry_prompt_cache_misses_total 2$/m);
  });

  it('maps integrations: the user’s connections (narrowed by the request), and steps that need the rest are left out', async () => {
    const digest = await builtIn('daily-briefing');
    const url = `/v1/templates/${digest.id}/prompt`;
    const none = (await call('POST', url, {})).json();
    expect(none.missingIntegrations).toEqual(['google-calendar']);
    expect(none.tools).toEqual([]);
    expect((await call('GET', `/v1/templates?available=true`)).json().templates.map((x: { slug: string }) => x.slug)).not.toContain(
      'daily-briefing',
    );
    // A request cannot claim integrations the user has not connected.
    expect((await call('POST', url, { integrations: ['google-calendar', 'gmail'] })).json().missingIntegrations).toEqual([
      'google-calendar',
    ]);

    for (const provider of ['gmail', 'google-calendar']) {
      await t.runtime.database.db
        .insertInto('integration_connections')
        .values({ user_id: t.userId, provider, auth_type: 'none' })
        .execute();
    }
    const some = (await call('POST', url, {})).json();
    expect(some.missingIntegrations).toEqual([]);
    expect(some.tools).toEqual(['gmail__list_unread', 'google-calendar__list_events']);
    expect(some.systemPrompt).toContain('- Step 3 needs slack: "Check for direct messages and mentions in chat."');
    expect((await call('POST', url, { integrations: ['google-calendar'] })).json().tools).toEqual(['google-calendar__list_events']);
    expect((await call('GET', `/v1/templates?available=true`)).json().templates.map((x: { slug: string }) => x.slug)).toContain(
      'daily-briefing',
    );
    await t.runtime.database.db.deleteFrom('integration_connections').where('user_id', '=', t.userId).execute();
  });

  it('answers bad prompt input with a 4xx and a code, and stays healthy', async () => {
    const review = await builtIn('pull-request-review');
    const url = `/v1/templates/${review.id}/prompt`;
    const missing = await call('POST', url, { variables: { repository: 'acme/api' } });
    expect(missing.statusCode).toBe(422);
    expect(missing.json().error).toMatchObject({ code: 'MISSING_VARIABLES', details: { missing: ['pullRequest'] } });
    const wrong = await call('POST', url, { variables: { repository: 'acme/api', pullRequest: 'forty-two' } });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.json().error).toMatchObject({ code: 'INVALID_VARIABLE', message: 'Variable "pullRequest" must be a number.' });
    const proto = await t.app.inject({
      method: 'POST',
      url,
      headers: { ...bearer(t.userToken), 'content-type': 'application/json' },
      payload: '{"variables":{"__proto__":{"admin":true},"repository":"a/b","pullRequest":1}}',
    });
    expect(proto.statusCode).toBe(400);
    expect(proto.json().error.code).toBe('FORBIDDEN_KEY');
    const huge = await call('POST', url, { variables: { repository: 'x'.repeat(1024 * 1024), pullRequest: 1 } });
    expect(huge.statusCode).toBe(413);
    const long = await call('POST', url, { variables: { repository: 'x'.repeat(300_000), pullRequest: 1 } });
    expect(long.statusCode).toBe(422);
    expect(long.json().error.code).toBe('INVALID_VARIABLE');
    expect(
      (await call('POST', url, { variables: { repository: 'a/b', pullRequest: 1 }, integrations: ['Not A Provider'] })).statusCode,
    ).toBe(400);
    expect((await call('POST', url, { variables: { repository: 'a/b', pullRequest: 1 }, version: 3_000_000_000 })).json().error.code).toBe(
      'VALIDATION_FAILED',
    );
    for (const hostile of ['/v1/templates?category=a%00b', '/v1/templates/a%00b', '/v1/templates/%ED%A0%80']) {
      const response = await call('GET', hostile);
      expect(response.statusCode, hostile).toBe(400);
      expect(response.json().error.code, hostile).toMatch(/INVALID_TEXT|VALIDATION_FAILED/);
    }
    const longId = await call('GET', `/v1/templates/${'x'.repeat(500)}`);
    expect(longId.statusCode).toBeGreaterThanOrEqual(400);
    expect(longId.statusCode).toBeLessThan(500);
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('tells the agent there is a knowledge base where there is one', async () => {
    const qa = await builtIn('document-qa');
    const prompt = (await call('POST', `/v1/templates/${qa.id}/prompt`, { variables: { question: 'What is the refund policy?' } })).json();
    expect(prompt.tools).toEqual(['knowledge_search']);
    expect(prompt.systemPrompt).toContain("- Knowledge base: available: search the user's documents with knowledge_search");
  });
});

describe('templates on a PostgreSQL database without pgvector', () => {
  it('leave out the steps that need the knowledge base, and tell the agent why', async () => {
    const t = await createTestApp('postgres', {}, { withoutPgvector: true });
    try {
      const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
        t.app.inject({ method, url, headers: bearer(t.userToken), ...(payload === undefined ? {} : { payload }) });
      const qa = (await call('GET', '/v1/templates')).json().templates.find((x: { slug: string }) => x.slug === 'document-qa');
      const prompt = (
        await call('POST', `/v1/templates/${qa.id}/prompt`, { variables: { question: 'What is the refund policy?' } })
      ).json();
      expect(prompt.tools).toEqual([]);
      expect(prompt.systemPrompt).toContain('- Step 1 needs the knowledge base');
      expect(prompt.systemPrompt).toContain('- Knowledge base: not available on this installation.');
    } finally {
      await t.close();
    }
  });
});
