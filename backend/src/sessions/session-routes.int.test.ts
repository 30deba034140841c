import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { openSocket, type TestSocket } from '../../test/ws-client.ts';

const standup = {
  slug: 'standup',
  name: 'Standup',
  description: 'Writes the standup summary.',
  category: 'Reporting',
  systemPrompt: 'Summarise the standup of {{team}}.',
  variables: [{ name: 'team', type: 'string', required: true }],
  steps: [{ instruction: 'Write it.' }],
};

describe.each(['pglite', 'postgres'] as const)('agents and sessions over HTTP (%s)', (driver) => {
  let t: TestApp;
  let otherToken: string;
  let templateId: string;
  beforeAll(async () => {
    t = await createTestApp(driver, { SESSION_CHECKPOINT_RETENTION: '3' });
    otherToken = (await t.runtime.users.create({ email: 'other@example.test' }, { userId: null, ip: null })).token;
    templateId = (await call('POST', '/v1/templates', standup)).json().template.id;
    await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => t.close());

  function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, token = t.userToken) {
    return t.app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });
  }
  const start = async (body: Record<string, unknown> = {}, token = t.userToken) => {
    const response = await call('POST', '/v1/sessions', body, token);
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as { session: Record<string, unknown> & { id: string }; dropped: Array<{ path: string; reason: string }> };
  };
  const setStatus = (id: string, status: string, extra: Record<string, unknown> = {}) =>
    call('POST', `/v1/sessions/${id}/status`, { status, ...extra });
  const subscribe = async (topic: string, token: string): Promise<TestSocket> => {
    const socket = openSocket(`ws://127.0.0.1:${(t.app.server.address() as { port: number }).port}/v1/ws`, { headers: bearer(token) });
    await socket.opened;
    await socket.next((frame) => frame.type === 'ready');
    socket.send({ type: 'subscribe', topics: [topic] });
    return socket;
  };

  it('gives every user a default agent on the default model, and manages their own agents', async () => {
    const { agents } = (await call('GET', '/v1/agents')).json();
    expect(agents).toEqual([expect.objectContaining({ name: 'Assistant', isDefault: true, model: null })]);
    const created = await call('POST', '/v1/agents', {
      name: 'Reporter',
      instructions: 'Be terse.',
      templateId,
      tools: ['knowledge_search'],
    });
    expect(created.statusCode).toBe(201);
    const { id } = created.json().agent;
    expect((await call('PUT', `/v1/agents/${id}`, { name: 'Reporter 2', model: 'local:offline' })).json().agent).toMatchObject({
      name: 'Reporter 2',
      model: 'local:offline',
      templateId: null,
    });
    expect((await call('GET', `/v1/agents/${id}`, undefined, otherToken)).json().error.code).toBe('AGENT_NOT_FOUND');
    expect((await call('POST', '/v1/agents', { name: 'Bad', model: 'nowhere:model' })).json().error.code).toBe('UNKNOWN_MODEL');
    expect((await call('DELETE', `/v1/agents/${agents[0].id}`)).statusCode).toBe(409);
    expect((await call('DELETE', `/v1/agents/${id}`)).statusCode).toBe(204);
  });

  it('starts a session from a template: running, with the rendered prompt, a conversation and a first checkpoint', async () => {
    const { session } = await start({ templateId, variables: { team: 'Platform' }, context: { project: 'apollo' } });
    expect(session).toMatchObject({
      status: 'running',
      templateId,
      templateVersion: 1,
      model: 'local:offline',
      context: { project: 'apollo' },
      variables: { team: 'Platform' },
      counters: { messages: 0, toolCalls: 0, errors: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 },
    });
    expect(session.conversationId).toEqual(expect.any(String));
    const read = (await call('GET', `/v1/sessions/${session.id}`)).json().session;
    expect(read.checkpoints).toMatchObject({ count: 1, latest: { seq: 1, reason: 'created' } });
    // The session keeps its version: a new template version does not change it.
    await call('PUT', `/v1/templates/${templateId}`, { ...standup, systemPrompt: 'Changed: {{team}}.' });
    expect((await call('GET', `/v1/sessions/${session.id}`)).json().session.templateVersion).toBe(1);
    const conversations = (await call('GET', `/v1/sessions/${session.id}/conversations`)).json().conversations;
    expect(conversations.map((c: { id: string }) => c.id)).toEqual([session.conversationId]);
  });

  it("refuses what cannot start: missing variables, another user's agent or template, missing integrations, an unknown model", async () => {
    expect((await call('POST', '/v1/sessions', { templateId })).json().error).toMatchObject({
      code: 'MISSING_VARIABLES',
      details: { missing: ['team'] },
    });
    const mine = (await call('POST', '/v1/agents', { name: 'Mine' })).json().agent.id;
    expect((await call('POST', '/v1/sessions', { agentId: mine }, otherToken)).json().error.code).toBe('AGENT_NOT_FOUND');
    expect((await call('POST', '/v1/sessions', { templateId }, otherToken)).json().error.code).toBe('TEMPLATE_NOT_FOUND');
    const triage = await call('POST', '/v1/sessions', { templateId: 'email-triage' });
    expect(triage.statusCode).toBe(409);
    expect(triage.json().error).toMatchObject({ code: 'INTEGRATIONS_MISSING', details: { missingIntegrations: ['gmail'] } });
    const broken = (await call('POST', '/v1/agents', { name: 'Broken', model: 'local:offline' })).json().agent.id;
    await t.runtime.database.db.updateTable('agents').set({ model: 'gone:model' }).where('id', '=', broken).execute();
    expect((await call('POST', '/v1/sessions', { agentId: broken })).json().error.code).toBe('UNKNOWN_MODEL');
    expect((await call('POST', '/v1/sessions', { variables: { team: 'x' } })).json().error.code).toBe('VALIDATION_FAILED');
    const { sessions } = (await call('GET', '/v1/sessions?limit=100', undefined, otherToken)).json();
    expect(sessions).toEqual([]);
  });

  it('stores context without secrets and says what it dropped', async () => {
    const { session, dropped } = await start({
      context: {
        project: 'apollo',
        apiKey: 'abc',
        nested: { password: 'hunter2', note: 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789', ok: 1 },
        long: 'x'.repeat(9000),
      },
    });
    expect(session.context).toEqual({ project: 'apollo', nested: { ok: 1 } });
    expect(dropped).toEqual(
      expect.arrayContaining([
        { path: 'apiKey', reason: 'secret-key' },
        { path: 'nested.password', reason: 'secret-key' },
        { path: 'nested.note', reason: 'secret-value' },
        { path: 'long', reason: 'too-long' },
      ]),
    );
  });

  it('follows the status machine, with a checkpoint and an event for every change', async () => {
    const { session } = await start();
    const ws = await subscribe(`session:${session.id}`, t.userToken);
    await ws.next((frame) => frame.type === 'subscribed');

    expect((await setStatus(session.id, 'paused')).json().session.status).toBe('paused');
    const refused = await setStatus(session.id, 'completed');
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toMatchObject({
      code: 'INVALID_TRANSITION',
      message: 'A paused session cannot become completed: it can become running.',
    });
    // paused → failed is the server's edge (resolve: fail, recovery exhausted), never the user's.
    const notFailed = await setStatus(session.id, 'failed');
    expect(notFailed.statusCode).toBe(409);
    expect(notFailed.json().error).toMatchObject({
      code: 'INVALID_TRANSITION',
      message: 'A paused session cannot become failed: it can become running.',
    });
    expect((await setStatus(session.id, 'running', { checkpoint: { name: 'before the risky part' } })).statusCode).toBe(200);
    expect((await setStatus(session.id, 'failed')).statusCode).toBe(200);
    expect((await setStatus(session.id, 'running')).statusCode).toBe(200);
    const completed = (await setStatus(session.id, 'completed')).json().session;
    expect(completed).toMatchObject({ status: 'completed', completedAt: expect.any(String) });
    expect((await setStatus(session.id, 'running')).json().error.message).toMatch(/cannot change any more/);
    expect((await setStatus(session.id, 'sleeping')).json().error.code).toBe('VALIDATION_FAILED');

    const changes = () =>
      ws
        .events()
        .filter((e) => e.event === 'session.status_changed')
        .map((e) => `${(e.data as { from: string }).from}→${(e.data as { to: string }).to}`);
    await ws.next(() => changes().length >= 5);
    expect(changes()).toEqual(['running→paused', 'paused→running', 'running→failed', 'failed→running', 'running→completed']);
    expect(ws.events().filter((e) => e.event === 'session.checkpoint')).toHaveLength(5);
    ws.ws.close();

    // Retention keeps the last three unnamed checkpoints, and every named one.
    const checkpoints = (await call('GET', `/v1/sessions/${session.id}/checkpoints`)).json().checkpoints;
    expect(checkpoints.map((c: { seq: number }) => c.seq)).toEqual([6, 5, 4, 3]);
    expect(checkpoints.find((c: { seq: number }) => c.seq === 3)).toMatchObject({ reason: 'status', name: 'before the risky part' });
  });

  it('lets one of two racing writers win; the other gets SESSION_LOCKED and nothing is lost', async () => {
    const { session } = await start();
    const results = await Promise.all([
      setStatus(session.id, 'paused'),
      setStatus(session.id, 'completed'),
      setStatus(session.id, 'failed'),
    ]);
    const codes = results.map((r) => r.statusCode).sort();
    const winners = results.filter((r) => r.statusCode === 200);
    expect(winners).toHaveLength(1);
    expect(codes.filter((c) => c === 409)).toHaveLength(2);
    for (const loser of results.filter((r) => r.statusCode === 409))
      expect(['SESSION_LOCKED', 'INVALID_TRANSITION']).toContain(loser.json().error.code);
    const final = (await call('GET', `/v1/sessions/${session.id}`)).json().session;
    expect(final.status).toBe(winners[0]!.json().session.status);
    expect(final.version).toBe(2);
    expect(final.checkpoints.count).toBe(2);
  });

  it('lists sessions by latest activity, filtered and paged, and deletes them', async () => {
    const agent = (await call('POST', '/v1/agents', { name: 'Lister' })).json().agent.id;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await start({ agentId: agent })).session.id);
    await setStatus(ids[0]!, 'paused');
    const first = (await call('GET', `/v1/sessions?agentId=${agent}&limit=2`)).json();
    expect(first.sessions.map((s: { id: string }) => s.id)).toEqual([ids[0], ids[2]]);
    const second = (await call('GET', `/v1/sessions?agentId=${agent}&limit=2&cursor=${first.nextCursor}`)).json();
    expect(second).toEqual({ sessions: [expect.objectContaining({ id: ids[1] })], nextCursor: null });
    expect((await call('GET', `/v1/sessions?agentId=${agent}&status=paused`)).json().sessions.map((s: { id: string }) => s.id)).toEqual([
      ids[0],
    ]);
    expect((await call('GET', '/v1/sessions?cursor=bogus')).statusCode).toBe(400);

    expect((await call('DELETE', `/v1/sessions/${ids[1]}`, undefined, otherToken)).statusCode).toBe(404);
    expect((await call('DELETE', `/v1/sessions/${ids[1]}`)).statusCode).toBe(204);
    expect((await call('GET', `/v1/sessions/${ids[1]}`)).json().error.code).toBe('SESSION_NOT_FOUND');
  });

  it('groups conversations under a session, and a conversation belongs to one session at most', async () => {
    const { session } = await start();
    const added = await call('POST', `/v1/sessions/${session.id}/conversations`, { title: 'Follow-up' });
    expect(added.statusCode).toBe(201);
    const list = (await call('GET', `/v1/sessions/${session.id}/conversations`)).json().conversations;
    expect(list.map((c: { title: string }) => c.title)).toEqual(['', 'Follow-up']);
    const reuse = await call('POST', '/v1/sessions', { conversationId: added.json().conversation.id });
    expect(reuse.json().error.code).toBe('CONVERSATION_IN_USE');
    expect((await call('POST', `/v1/sessions/${session.id}/conversations`, {}, otherToken)).statusCode).toBe(404);
    expect((await call('POST', '/v1/sessions', { conversationId: added.json().conversation.id }, otherToken)).json().error.code).toBe(
      'CONVERSATION_NOT_FOUND',
    );
  });

  it('takes a checkpoint on request, and hides a session from everyone but its user', async () => {
    const { session } = await start();
    const taken = await call('POST', `/v1/sessions/${session.id}/checkpoints`, { name: 'baseline' });
    expect(taken.statusCode).toBe(201);
    expect(taken.json().checkpoint).toMatchObject({ seq: 2, reason: 'manual', name: 'baseline' });
    const unnamed = await call('POST', `/v1/sessions/${session.id}/checkpoints`);
    expect(unnamed.json().checkpoint, unnamed.body).toMatchObject({ seq: 3, name: null });
    for (const [method, url, body] of [
      ['GET', `/v1/sessions/${session.id}`, undefined],
      ['POST', `/v1/sessions/${session.id}/status`, { status: 'paused' }],
      ['GET', `/v1/sessions/${session.id}/checkpoints`, undefined],
      ['POST', `/v1/sessions/${session.id}/checkpoints`, { name: 'theirs' }],
      ['GET', `/v1/sessions/${session.id}/conversations`, undefined],
    ] as const) {
      const response = await call(method, url, body, otherToken);
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(response.json().error.code).toBe('SESSION_NOT_FOUND');
    }
    expect((await call('GET', `/v1/sessions/${session.id}`)).json().session).toMatchObject({
      status: 'running',
      checkpoints: { count: 3 },
    });
  });

  it("refuses a subscription to another user's session topic", async () => {
    const { session } = await start();
    const ws = await subscribe(`session:${session.id}`, otherToken);
    const frame = await ws.next((f) => f.type === 'error' || f.type === 'subscribed');
    expect(frame).toMatchObject({ type: 'error', code: 'TOPIC_FORBIDDEN' });
    ws.ws.close();
  });
});
