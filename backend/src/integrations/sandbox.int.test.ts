import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveUntilEnd } from '../../test/approvals.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';

/**
 * The keyless sandbox as a user meets it, with the installation's own catalogue and the offline
 * model: connect with nothing to fill in, its tools under the stood-in providers' names, tool
 * calls that read and write the sample data, templates that need Gmail start with it and those
 * that need GitHub do not, each user's data their own, and a reset that puts it back.
 */
describe.each(drivers)('the sandbox on %s', (driver) => {
  let t: TestApp;
  let other: string;

  const call = async (method: 'GET' | 'POST', url: string, payload?: unknown, token = t.userToken) =>
    t.app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });

  /** Runs `/tool <name> <input>` in a plain session's chat and answers the tool's result. */
  const runTool = async (name: string, input: object, token = t.userToken) => {
    const session = (await call('POST', '/v1/sessions', {}, token)).json<{ session: { id: string; conversationId: string } }>().session;
    const sent = await call(
      'POST',
      `/v1/conversations/${session.conversationId}/messages?wait=true`,
      { content: `/tool ${name} ${JSON.stringify(input)}` },
      token,
    );
    // Writing calls (a draft) wait for the user's approval: the user approves them.
    const turn = sent.json<{ turn: { id: string; status: string } }>().turn;
    expect(await approveUntilEnd(t, { sessionId: session.id, turnId: turn.id, status: turn.status, token })).toBe('completed');
    const messages = (await call('GET', `/v1/conversations/${session.conversationId}/messages`, undefined, token)).json<{
      messages: Array<{ role: string; toolName: string; toolResult: unknown; isError: boolean }>;
    }>().messages;
    const result = messages.find((m) => m.role === 'tool' && m.toolName === name)!;
    expect(result.isError).toBe(false);
    return JSON.stringify(result.toolResult);
  };

  const connect = async (token = t.userToken) => {
    const connected = await call('POST', '/v1/integrations/sandbox/connect', undefined, token);
    expect(connected.statusCode).toBe(201);
    const discovered = (await call('POST', '/v1/integrations/discover', { forceRefresh: true }, token)).json<{
      integrations: Array<{ provider: string; tools: Array<{ name: string }> }>;
    }>().integrations;
    return discovered.find((i) => i.provider === 'sandbox')!.tools.map((tool) => tool.name);
  };

  beforeAll(async () => {
    t = await createTestApp(driver);
    other = (await t.runtime.users.create({ email: 'other@example.test', name: 'Other' }, { userId: null, ip: null })).token;
  });
  afterAll(() => t.close());

  it('is offered with no settings, stands in for gmail, google-calendar and slack, and connects with nothing to fill in', async () => {
    const listed = (await call('GET', '/v1/integrations')).json<{
      integrations: Array<{ provider: string; available: boolean; authType: string; standsIn: string[] }>;
    }>().integrations;
    expect(listed.find((i) => i.provider === 'sandbox')).toMatchObject({
      available: true,
      authType: 'none',
      standsIn: ['gmail', 'google-calendar', 'slack'],
    });
    const tools = await connect();
    expect(tools).toEqual(
      expect.arrayContaining(['gmail__list_unread', 'gmail__create_draft', 'google-calendar__find_free_time', 'slack__post_message']),
    );
    expect(tools.every((name) => /^(gmail|google-calendar|slack)__/.test(name))).toBe(true);
  });

  it('answers tool calls from the sample data, and stores a draft', async () => {
    expect(await runTool('gmail__list_unread', { newerThan: '1d' })).toContain('Urgent: CSV exports failing since Monday');
    expect(await runTool('slack__list_mentions', {})).toContain('support-escalations');
    const draft = await runTool('gmail__create_draft', {
      to: ['maya@larkspur.example'],
      subject: 'Sandbox draft',
      body: 'Go for Thursday.',
    });
    expect(draft).toContain('draftId');
    expect(await runTool('gmail__search_messages', { query: 'in:drafts' })).toContain('Sandbox draft');
  });

  it('lets a template that requires gmail start with only the sandbox, not one that requires github', async () => {
    const triage = await call('POST', '/v1/sessions', { templateId: 'email-triage' });
    expect(triage.statusCode).toBe(201);
    const review = await call('POST', '/v1/sessions', {
      templateId: 'pull-request-review',
      variables: { repository: 'acme/api', pullRequest: 7 },
    });
    expect(review.statusCode).toBe(409);
    expect(review.json()).toMatchObject({ error: { code: 'INTEGRATIONS_MISSING', details: { missingIntegrations: ['github'] } } });
    const gallery = (await call('GET', '/v1/templates')).json<{ templates: Array<{ slug: string; available: boolean }> }>().templates;
    expect(gallery.find((g) => g.slug === 'email-triage')!.available).toBe(true);
    expect(gallery.find((g) => g.slug === 'pull-request-review')!.available).toBe(false);
  });

  it("keeps each user's sandbox to themselves, and a reset puts the sample back", async () => {
    await connect(other);
    expect(await runTool('gmail__search_messages', { query: 'in:drafts' }, other)).not.toContain('Sandbox draft');
    const reset = await call('POST', '/v1/integrations/sandbox/reset');
    expect(reset.json()).toEqual({ reset: { messages: 16, events: 18, chatMessages: 19 } });
    const drafts = await runTool('gmail__search_messages', { query: 'in:drafts' });
    expect(drafts).not.toContain('Sandbox draft');
    expect(drafts).toContain('Re: Launch checklist for Thursday');
  });

  it("gives way to the user's connection to the real provider, for that provider's tools only", async () => {
    const userId = await t.runtime.users.create({ email: 'real-gmail@example.test' }, { userId: null, ip: null });
    await t.runtime.database.db
      .insertInto('integration_connections')
      .values({ user_id: userId.user.id, provider: 'gmail', auth_type: 'oauth2' })
      .execute();
    const tools = await connect(userId.token);
    expect(tools.some((name) => name.startsWith('gmail__'))).toBe(false);
    expect(tools).toContain('slack__post_message');
  });
});
