import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatCompletions, type ChatRequest, type FakeChatCompletions } from '../../test/fake-chat-completions.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';

/** The model's system text of a request: where the session's context reaches it. */
const systemOf = (request: ChatRequest) => String(request.body.messages.find((m) => m.role === 'system')?.content ?? '');

describe.each(drivers)('session context the agent uses on %s', (driver) => {
  let t: TestApp;
  let fake: FakeChatCompletions;
  beforeAll(async () => {
    fake = await startFakeChatCompletions();
    // Answers from what the model was given: the deploy window, when its context holds one.
    fake.respond = (body) => {
      const system = String(body.messages.find((m) => m.role === 'system')?.content ?? '');
      const known = /"deployWindow":"([^"]{1,40})"/.exec(system)?.[1];
      return { kind: 'text', text: known ? `The deploy window is ${known}.` : 'I do not know the deploy window.' };
    };
    t = await createTestApp(driver, { MODEL_ENDPOINTS: `fake=${fake.url}`, MODEL_MAX_RETRIES: '0' });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: bearer(t.userToken), ...(payload === undefined ? {} : { payload: payload as object }) });
  const send = async (conversationId: string, content: string) =>
    (await call('POST', `/v1/conversations/${conversationId}/messages?wait=true`, { content })).json();
  const startSession = async (context?: Record<string, unknown>) => {
    const agent = (await call('POST', '/v1/agents', { name: 'Release helper', model: 'fake:memory' })).json().agent;
    return (await call('POST', '/v1/sessions', { agentId: agent.id, ...(context ? { context } : {}) })).json().session as {
      id: string;
      conversationId: string;
    };
  };
  const events = (sessionId: string) =>
    t.runtime.database.db
      .selectFrom('events')
      .select(['type', 'data'])
      .where('topic', '=', `session:${sessionId}`)
      .where('type', '=', 'session.context_updated')
      .execute();
  const checkpointReasons = async (sessionId: string) =>
    ((await call('GET', `/v1/sessions/${sessionId}/checkpoints`)).json().checkpoints as Array<{ reason: string }>).map((c) => c.reason);

  it('uses in conversation B a fact the agent remembered in turn 2 of conversation A', async () => {
    const session = await startSession();
    expect((await send(session.conversationId, 'Hello.')).turn.status).toBe('completed');
    fake.replies.push(
      { kind: 'tool-call', name: 'remember', arguments: { facts: { deployWindow: 'Thursday 14:00 UTC' } }, id: 'call_remember' },
      { kind: 'text', text: 'Noted.' },
    );
    const second = await send(session.conversationId, 'Remember: we deploy on Thursday at 14:00 UTC.');
    expect(second.turn.status).toBe('completed');
    // The remember tool was offered, and its result says what was kept.
    expect(fake.requests.at(-2)!.body.tools?.map((tool) => tool.function.name)).toContain('remember');
    const transcript = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json().messages;
    expect(transcript.find((m: { role: string }) => m.role === 'tool')).toMatchObject({
      toolName: 'remember',
      isError: false,
      toolResult: { remembered: ['deployWindow'] },
    });
    expect(await checkpointReasons(session.id)).toContain('context');
    expect(await events(session.id)).toEqual([
      { type: 'session.context_updated', data: { sessionId: session.id, by: 'agent', keys: ['deployWindow'] } },
    ]);

    const other = (await call('POST', `/v1/sessions/${session.id}/conversations`, {})).json().conversation;
    const answer = await send(other.id, 'When do we deploy?');
    expect(answer.message.content).toBe('The deploy window is Thursday 14:00 UTC.');
    // As data, delimited like a template's values, never as instructions.
    expect(systemOf(fake.requests.at(-1)!)).toContain('<value name="sessionContext">{"deployWindow":"Thursday 14:00 UTC"}</value>');
  });

  it('lets the user change the context with PATCH: merged, sanitised, checkpointed, and read by the next turn', async () => {
    const session = await startSession({ deployWindow: 'Monday 09:00 UTC', team: 'platform' });
    const patched = await call('PATCH', `/v1/sessions/${session.id}/context`, {
      deployWindow: 'Friday 16:00 UTC',
      team: null,
      apiKey: 'sk-not-kept',
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toEqual({
      context: { deployWindow: 'Friday 16:00 UTC' },
      dropped: [{ path: 'apiKey', reason: 'secret-key' }],
    });
    expect(await checkpointReasons(session.id)).toContain('context');
    expect((await events(session.id)).map((e) => e.data)).toEqual([
      { sessionId: session.id, by: 'user', keys: ['deployWindow', 'team', 'apiKey'] },
    ]);
    const answer = await send(session.conversationId, 'When do we deploy?');
    expect(answer.message.content).toBe('The deploy window is Friday 16:00 UTC.');

    const unknown = await call('PATCH', `/v1/sessions/00000000-0000-4000-8000-000000000000/context`, { a: 1 });
    expect(unknown.statusCode).toBe(404);
  });
});
