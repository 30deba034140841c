import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveUntilEnd } from '../../test/approvals.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

/**
 * What a newcomer sees on a fresh install with no key at all: the Sandbox connected, and three of
 * the built-in workflows run to `completed` by the offline responder, each step's tool called
 * against the sample data and succeeding.
 */
describe('built-in workflows on the Sandbox with the offline responder', () => {
  let t: TestApp;

  const call = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: bearer(t.userToken), ...(payload === undefined ? {} : { payload: payload as object }) });

  beforeAll(async () => {
    t = await createTestApp('pglite');
    expect((await call('POST', '/v1/integrations/sandbox/connect')).statusCode).toBe(201);
    await call('POST', '/v1/integrations/discover', { forceRefresh: true });
  });
  afterAll(() => t.close());

  /** Starts the workflow, sends its opening message, and answers the turn's status and the tool results in the chat. */
  async function run(slug: string, variables: Record<string, unknown>) {
    const started = await call('POST', '/v1/sessions', { templateId: slug, variables });
    expect(started.statusCode, started.body).toBe(201);
    const session = started.json<{ session: { id: string; conversationId: string; userPrompt: string } }>().session;
    const sent = await call('POST', `/v1/conversations/${session.conversationId}/messages?wait=true`, {
      // A workflow without an opening prompt (channel digest) starts from the user's own words.
      content: session.userPrompt || 'Go ahead.',
    });
    const turn = sent.json<{ turn: { id: string; status: string } }>().turn;
    const ended = await approveUntilEnd(t, { sessionId: session.id, turnId: turn.id, status: turn.status });
    const status = (await call('GET', `/v1/sessions/${session.id}`)).json<{ session: { status: string } }>().session.status;
    const messages = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json<{
      messages: Array<{ role: string; toolName: string | null; toolResult: unknown; isError: boolean }>;
    }>().messages;
    const results = messages.filter((m) => m.role === 'tool');
    return { turn: ended, status, results };
  }

  it('triages the sample inbox: lists the unread mail and saves drafts', async () => {
    const { turn, status, results } = await run('email-triage', {});
    expect(turn).toBe('completed');
    expect(status).toBe('completed');
    expect(results.map((r) => r.toolName)).toEqual(['gmail__list_unread', 'gmail__create_draft', 'complete_session']);
    expect(results.every((r) => !r.isError)).toBe(true);
    expect(JSON.stringify(results[0]!.toolResult)).toContain('larkspur.example');
  });

  it('schedules a meeting: finds free time, books it and mails the invitation', async () => {
    const { status, results } = await run('meeting-scheduler', { topic: 'launch retro', attendees: ['maya@larkspur.example'] });
    expect(status).toBe('completed');
    expect(results.map((r) => r.toolName)).toEqual([
      'google-calendar__find_free_time',
      'google-calendar__create_event',
      'gmail__send_email',
      'complete_session',
    ]);
    expect(results.filter((r) => r.isError).map((r) => JSON.stringify(r.toolResult))).toEqual([]);
  });

  it('digests a channel and posts the digest', async () => {
    const { status, results } = await run('channel-digest', { channels: ['general'], postTo: 'general' });
    expect(status).toBe('completed');
    expect(results.map((r) => r.toolName)).toEqual(['slack__get_channel_history', 'slack__post_message', 'complete_session']);
    expect(results.filter((r) => r.isError).map((r) => JSON.stringify(r.toolResult))).toEqual([]);
  });
});
