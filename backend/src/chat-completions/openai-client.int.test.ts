import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatCompletions, type FakeChatCompletions } from '../../test/fake-chat-completions.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

/*
 * The OpenAI-compatible endpoint, driven by the official `openai` client as any script or chat
 * client would drive it, against the real app on 127.0.0.1. The agent's model is a fake OpenAI
 * server, so answers (and their token usage) are known.
 */
describe('the OpenAI-compatible chat completions endpoint, with the official openai client (pglite)', () => {
  let t: TestApp;
  let fake: FakeChatCompletions;
  let client: OpenAI;
  let baseURL: string;

  beforeAll(async () => {
    fake = await startFakeChatCompletions();
    t = await createTestApp('pglite', {
      MODEL_ENDPOINTS: `fake=${fake.url}`,
      MODEL_MAX_RETRIES: '0',
      CHAT_COMPLETIONS_MAX_WAIT_MS: '3000',
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseURL = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}/v1/openai`;
    client = new OpenAI({ baseURL, apiKey: t.userToken, maxRetries: 0 });
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/agents',
      headers: bearer(t.userToken),
      payload: { name: 'Support Desk', model: 'fake:gpt-test' },
    });
    expect(created.json().agent.slug).toBe('support-desk');
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  const sessionCount = async () =>
    Number(
      (
        await t.runtime.database.db
          .selectFrom('agent_sessions')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('user_id', '=', t.userId)
          .executeTakeFirstOrThrow()
      ).n,
    );

  const errorOf = async (response: Response) => ((await response.json()) as { error: Record<string, unknown> }).error;

  it('lists the agents by slug as models', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(expect.arrayContaining(['assistant', 'support-desk']));
  });

  it('answers a plain completion with the turn, its usage and its session', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'support-desk', messages: [{ role: 'user', content: 'Hello there' }] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]!.message.content).toBe('You said: Hello there');
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage!.total_tokens).toBeGreaterThan(0);
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);
    const sessionId = response.headers.get('x-agentry-session')!;
    const session = await t.app.inject({ method: 'GET', url: `/v1/sessions/${sessionId}`, headers: bearer(t.userToken) });
    expect(session.json().session.counters.inputTokens).toBe(data.usage!.prompt_tokens);
  });

  it('streams the answer as chunks: the role first, the text in pieces, a finish reason, usage, then [DONE]', async () => {
    fake.replies.push({ kind: 'text', text: 'Streaming answers arrive piece by piece.', pieceLength: 5, pieceDelayMs: 20 });
    const stream = await client.chat.completions.create({
      model: 'support-desk',
      messages: [{ role: 'user', content: 'Stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('Streaming answers arrive piece by piece.');
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(1);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0);

    // On the wire: server-sent events ending with [DONE].
    const raw = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(t.userToken), 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'support-desk', messages: [{ role: 'user', content: 'Again' }], stream: true }),
    });
    expect(raw.headers.get('content-type')).toContain('text/event-stream');
    expect(raw.headers.get('x-agentry-session')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await raw.text()).trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('continues one session across calls: the second turn sees the first, and only the new message is appended', async () => {
    const first = await client.chat.completions
      .create({ model: 'support-desk', messages: [{ role: 'user', content: 'My name is Ada.' }] })
      .withResponse();
    const sessionId = first.response.headers.get('x-agentry-session')!;
    const history = [
      { role: 'user' as const, content: 'My name is Ada.' },
      { role: 'assistant' as const, content: first.data.choices[0]!.message.content! },
      { role: 'user' as const, content: 'What is my name?' },
    ];
    const second = await client.chat.completions
      .create({ model: 'support-desk', messages: history }, { headers: { 'x-agentry-session': sessionId } })
      .withResponse();
    expect(second.response.headers.get('x-agentry-session')).toBe(sessionId);
    expect(second.data.choices[0]!.message.content).toBe('You said: What is my name?');
    // The model saw the first turn, once: the session's own history, not the client's copy again.
    const seen = fake.requests.at(-1)!.body.messages.filter((m) => m.role !== 'system');
    expect(seen.map((m) => [m.role, m.content])).toEqual([
      ['user', 'My name is Ada.'],
      ['assistant', 'You said: My name is Ada.'],
      ['user', 'What is my name?'],
    ]);
    // The `user` field names the session as well.
    const third = await client.chat.completions.create({
      model: 'support-desk',
      user: sessionId,
      messages: [...history, { role: 'assistant', content: 'x' }, { role: 'user', content: 'Thanks' }],
    });
    expect(third.choices[0]!.message.content).toBe('You said: Thanks');
    const messages = await t.app.inject({
      method: 'GET',
      url: `/v1/conversations/${(await t.app.inject({ method: 'GET', url: `/v1/sessions/${sessionId}`, headers: bearer(t.userToken) })).json().session.conversationId}/messages`,
      headers: bearer(t.userToken),
    });
    expect(
      messages
        .json()
        .messages.filter((m: { role: string }) => m.role === 'user')
        .map((m: { content: string }) => m.content),
    ).toEqual(['My name is Ada.', 'What is my name?', 'Thanks']);
  });

  it('refuses a bad key with 401 in OpenAI’s shape (AuthenticationError)', async () => {
    const bad = new OpenAI({ baseURL, apiKey: 'agt_not-a-real-token', maxRetries: 0 });
    const error = await bad.chat.completions.create({ model: 'support-desk', messages: [{ role: 'user', content: 'Hi' }] }).catch((e) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.status).toBe(401);
    expect(error.error).toMatchObject({ type: 'authentication_error', code: 'UNAUTHORIZED', param: null });
    expect(error.error.message).toMatch(/token/);
  });

  it('answers an unknown model with 404 model_not_found, and starts no session', async () => {
    const before = await sessionCount();
    const error = await client.chat.completions
      .create({ model: 'no-such-agent', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.error).toMatchObject({ type: 'invalid_request_error', code: 'MODEL_NOT_FOUND', param: 'model' });
    expect(await sessionCount()).toBe(before);
  });

  it("refuses the client's own tools and n > 1 clearly, and starts no session", async () => {
    const before = await sessionCount();
    const tools = await client.chat.completions
      .create({
        model: 'support-desk',
        messages: [{ role: 'user', content: 'Weather?' }],
        tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: {} } } }],
      })
      .catch((e) => e);
    expect(tools).toBeInstanceOf(BadRequestError);
    expect(tools.error).toMatchObject({ code: 'UNSUPPORTED_PARAMETER', param: 'tools', type: 'invalid_request_error' });
    expect(tools.error.message).toMatch(/tools .*run on the server/);
    const many = await client.chat.completions
      .create({ model: 'support-desk', n: 2, messages: [{ role: 'user', content: 'Hi' }] })
      .catch((e) => e);
    expect(many.error).toMatchObject({ code: 'UNSUPPORTED_PARAMETER', param: 'n' });
    expect(await sessionCount()).toBe(before);
  });

  it('answers malformed and oversized requests in OpenAI’s shape, and starts no session', async () => {
    const before = await sessionCount();
    const post = (body: string) =>
      fetch(`${baseURL}/chat/completions`, {
        method: 'POST',
        headers: { ...bearer(t.userToken), 'content-type': 'application/json' },
        body,
      });
    const broken = await post('{"model": "support-desk", "messages": [');
    expect(broken.status).toBe(400);
    expect(await errorOf(broken)).toMatchObject({ code: 'INVALID_JSON', type: 'invalid_request_error' });
    const noMessages = await post(JSON.stringify({ model: 'support-desk', messages: 'hello' }));
    expect(noMessages.status).toBe(400);
    expect(await errorOf(noMessages)).toMatchObject({ code: 'VALIDATION_FAILED', param: 'messages' });
    const lastNotUser = await post(JSON.stringify({ model: 'support-desk', messages: [{ role: 'assistant', content: 'Hi' }] }));
    expect(await errorOf(lastNotUser)).toMatchObject({ code: 'VALIDATION_FAILED', param: 'messages[0].role' });
    const huge = await post(JSON.stringify({ model: 'support-desk', messages: [{ role: 'user', content: 'x'.repeat(150_000) }] }));
    expect(huge.status).toBe(413);
    expect(await errorOf(huge)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    const unknownPath = await fetch(`${baseURL}/completions`, { method: 'POST', headers: bearer(t.userToken) });
    expect(unknownPath.status).toBe(404);
    expect(await errorOf(unknownPath)).toMatchObject({ code: 'NOT_FOUND', type: 'invalid_request_error', param: null });
    expect(await sessionCount()).toBe(before);
  });

  it('answers 409 session_busy while the named session runs a turn', async () => {
    fake.replies.push({ kind: 'text', text: 'Slow answer.', pieceLength: 2, pieceDelayMs: 100 });
    const stream = await client.chat.completions
      .create({ model: 'support-desk', messages: [{ role: 'user', content: 'Take your time' }], stream: true })
      .withResponse();
    const sessionId = stream.response.headers.get('x-agentry-session')!;
    const busy = await client.chat.completions
      .create({ model: 'support-desk', messages: [{ role: 'user', content: 'And now?' }] }, { headers: { 'x-agentry-session': sessionId } })
      .catch((e) => e);
    expect(busy.status).toBe(409);
    expect(busy.error).toMatchObject({ code: 'SESSION_BUSY' });
    let text = '';
    for await (const chunk of stream.data) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Slow answer.');
  });

  it('ends only the stream when the client goes away: the turn finishes in its session', async () => {
    fake.replies.push({ kind: 'text', text: 'This answer outlives its reader.', pieceLength: 4, pieceDelayMs: 60 });
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'support-desk', messages: [{ role: 'user', content: 'Long one' }], stream: true })
      .withResponse();
    const sessionId = response.headers.get('x-agentry-session')!;
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) break; // leaves: the client aborts the request
    const session = async () =>
      (await t.app.inject({ method: 'GET', url: `/v1/sessions/${sessionId}`, headers: bearer(t.userToken) })).json().session;
    await expect.poll(async () => (await session()).activeTurn, { timeout: 10_000 }).toBeNull();
    const messages = await t.app.inject({
      method: 'GET',
      url: `/v1/conversations/${(await session()).conversationId}/messages`,
      headers: bearer(t.userToken),
    });
    expect(messages.json().messages.at(-1)).toMatchObject({ role: 'assistant', content: 'This answer outlives its reader.' });
  });

  it('stops waiting at CHAT_COMPLETIONS_MAX_WAIT_MS: 504 TURN_TIMEOUT naming the session, whose turn goes on', async () => {
    fake.replies.push({ kind: 'stall' });
    const started = Date.now();
    const error = await client.chat.completions
      .create({ model: 'support-desk', messages: [{ role: 'user', content: 'Stall' }] })
      .catch((e) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    expect(error.status).toBe(504);
    expect(error.error).toMatchObject({ code: 'TURN_TIMEOUT', type: 'server_error' });
    const sessionId = error.headers.get('x-agentry-session');
    expect(error.error.message).toContain(sessionId);
    const session = await t.app.inject({ method: 'GET', url: `/v1/sessions/${sessionId}`, headers: bearer(t.userToken) });
    expect(session.json().session.activeTurn).toMatchObject({ status: 'running' });
    await t.app.inject({ method: 'POST', url: `/v1/sessions/${sessionId}/cancel`, headers: bearer(t.userToken) });
  });

  it("reports a turn that fails in OpenAI's shape: an error status, or an error event in a stream", async () => {
    fake.replies.push({ kind: 'fail', status: 500 });
    const whole = await client.chat.completions
      .create({ model: 'support-desk', messages: [{ role: 'user', content: 'Fail' }] })
      .catch((e) => e);
    expect(whole.status).toBe(502);
    expect(whole.error).toMatchObject({ code: 'MODEL_API_ERROR', type: 'server_error' });
    fake.replies.push({ kind: 'fail', status: 500 });
    const stream = await client.chat.completions.create({
      model: 'support-desk',
      messages: [{ role: 'user', content: 'Fail' }],
      stream: true,
    });
    const failure = await (async () => {
      for await (const chunk of stream) void chunk;
    })().catch((e) => e);
    expect(failure).toBeInstanceOf(APIError);
    expect(failure.error).toMatchObject({ code: 'MODEL_API_ERROR' });
  });

  it('runs a template named as the model: a session of that template with its default variables', async () => {
    const template = await t.app.inject({
      method: 'POST',
      url: '/v1/templates',
      headers: bearer(t.userToken),
      payload: {
        slug: 'daily-brief',
        name: 'Daily brief',
        description: 'Writes a brief.',
        category: 'Reporting',
        systemPrompt: 'Write a {{tone}} brief.',
        variables: [{ name: 'tone', type: 'string', default: 'short' }],
        steps: [{ instruction: 'Write it.' }],
        model: 'fake:gpt-test',
      },
    });
    expect(template.statusCode, template.body).toBe(201);
    expect((await client.models.list()).data.map((m) => m.id)).toContain('daily-brief');
    const { data, response } = await client.chat.completions
      .create({ model: 'daily-brief', messages: [{ role: 'user', content: 'Brief me' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('You said: Brief me');
    const session = await t.app.inject({
      method: 'GET',
      url: `/v1/sessions/${response.headers.get('x-agentry-session')}`,
      headers: bearer(t.userToken),
    });
    expect(session.json().session).toMatchObject({ templateId: template.json().template.id, variables: { tone: 'short' } });
    expect(fake.requests.at(-1)!.body.messages[0]).toMatchObject({
      role: 'system',
      content: expect.stringContaining('Write a <value name="tone">short</value> brief.'),
    });
  });
});
