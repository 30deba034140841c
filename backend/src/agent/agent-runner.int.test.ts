import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatCompletions, type FakeChatCompletions } from '../../test/fake-chat-completions.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import { openSocket } from '../../test/ws-client.ts';
import { effects } from '../../test/fixtures/effect-counter-tool.ts';
import { toJsonText } from '../database/index.ts';
import { removeFinishedSessions } from '../sessions/index.ts';
import { loadCustomTools } from './custom-tools.ts';

describe.each(drivers)('the agent loop on %s (local:offline and a model server on 127.0.0.1)', (driver) => {
  let t: TestApp;
  let fake: FakeChatCompletions;
  beforeAll(async () => {
    fake = await startFakeChatCompletions();
    t = await createTestApp(driver, {
      MODEL_ENDPOINTS: `fake=${fake.url}`,
      SESSION_MAX_STEPS: '3',
      MODEL_TIMEOUT_MS: '30000',
      MODEL_MAX_RETRIES: '0',
      CUSTOM_TOOLS: 'backend/test/fixtures/effect-counter-tool.ts',
      SESSION_RECOVERY_INTERVAL_MS: '100',
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    await call('POST', '/v1/knowledge/documents', {
      title: 'Refund policy',
      content: 'Refunds are paid within 14 days of a written request. Gift cards are not refundable.',
    });
    await t.runtime.knowledge.idle();
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  function call(method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, token = t.userToken) {
    return t.app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });
  }
  const startSession = async (agent?: { model: string }) => {
    const agentId = agent ? (await call('POST', '/v1/agents', { name: 'Scripted', model: agent.model })).json().agent.id : undefined;
    const response = await call('POST', '/v1/sessions', agentId ? { agentId } : {});
    expect(response.statusCode, response.body).toBe(201);
    return response.json().session as { id: string; conversationId: string };
  };
  const modelCalls = (sessionId: string) =>
    t.runtime.database.db.selectFrom('model_calls').selectAll().where('session_id', '=', sessionId).orderBy('seq').execute();
  const send = (conversationId: string, content: string, wait = true) =>
    call('POST', `/v1/conversations/${conversationId}/messages${wait ? '?wait=true' : ''}`, { content });

  it('answers a question from the knowledge base: a knowledge_search step, then a cited answer, all recorded', async () => {
    const session = await startSession();
    const socket = openSocket(`ws://127.0.0.1:${(t.app.server.address() as { port: number }).port}/v1/ws`, {
      headers: bearer(t.userToken),
    });
    await socket.opened;
    await socket.next((f) => f.type === 'ready');
    socket.send({ type: 'subscribe', topics: [`session:${session.id}`] });
    await socket.next((f) => f.type === 'subscribed');

    const response = await send(session.conversationId, 'How long do refunds take?');
    expect(response.statusCode).toBe(200);
    const { turn, message } = response.json();
    expect(turn, JSON.stringify(turn)).toMatchObject({ status: 'completed' });
    expect(message.content).toContain('Refunds are paid within 14 days');
    expect(message.content).toContain('Refund policy');
    expect(message.content).toMatch(/not a language model/i);

    const transcript = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json().messages;
    expect(transcript.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(transcript[1].toolCalls).toEqual([expect.objectContaining({ tool: 'knowledge_search' })]);
    expect(transcript[2]).toMatchObject({ toolName: 'knowledge_search', isError: false });
    expect(transcript[3].usage.inputTokens).toBeGreaterThan(0);
    expect(transcript[3].usage.outputTokens).toBeGreaterThan(0);

    const read = (await call('GET', `/v1/sessions/${session.id}`)).json().session;
    expect(read.counters).toMatchObject({ messages: 4, toolCalls: 1, errors: 0 });
    expect(read.counters.inputTokens).toBeGreaterThan(0);
    expect(read.checkpoints.latest).toMatchObject({ reason: 'step', step: 2 });
    expect(read.toolsUsed).toEqual([{ tool: 'knowledge_search', calls: 1, errors: 0 }]);
    expect(read.activeTurn).toBeNull();

    await socket.next(
      (f) =>
        f.event === 'message.completed' &&
        (f.data as { role: string }).role === 'assistant' &&
        (f.data as { text: string }).text.includes('14 days'),
    );
    const ended = await socket.next((f) => f.event === 'turn.ended');
    expect(ended.data).toEqual({ sessionId: session.id, turnId: turn.id, status: 'completed', steps: 2 });
    const kinds = socket.events().map((e) => e.event);
    expect(kinds).toEqual(
      expect.arrayContaining(['message.completed', 'tool.started', 'tool.completed', 'message.delta', 'session.checkpoint']),
    );
    expect(kinds.indexOf('tool.started')).toBeLessThan(kinds.indexOf('tool.completed'));
    // The streamed deltas add up to the stored answer (one, sent with it, when it streamed whole within the first window).
    const deltas = socket
      .events()
      .filter((e) => e.event === 'message.delta' && (e.data as { messageId: string }).messageId === message.id)
      .map((e) => e.data as { offset: number; text: string });
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.map((d) => d.text).join('')).toBe(message.content);
    socket.ws.close();
  });

  it('refuses arguments that do not match a tool, records the failure, and goes on', async () => {
    const session = await startSession();
    const { turn } = (await send(session.conversationId, '/tool knowledge_search {"query": 5}')).json();
    expect(turn.status).toBe('completed');
    const transcript = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json().messages;
    const result = transcript.find((m: { role: string }) => m.role === 'tool');
    expect(result).toMatchObject({ isError: true, toolResult: { code: 'TOOL_INPUT_INVALID' } });
    expect((await call('GET', `/v1/sessions/${session.id}`)).json().session.counters.errors).toBe(1);
  });

  it('ends a turn whose model keeps calling tools at the step limit, refusing tools the session does not have', async () => {
    const session = await startSession({ model: 'fake:looper' });
    for (let i = 0; i < 3; i++) fake.replies.push({ kind: 'tool-call', name: 'delete_everything', arguments: {} });
    const { turn } = (await send(session.conversationId, 'Go.')).json();
    expect(turn).toMatchObject({ status: 'step_limit', error: { code: 'STEP_LIMIT' } });
    const transcript = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json().messages;
    const refusals = transcript.filter((m: { role: string }) => m.role === 'tool');
    expect(refusals).toHaveLength(3);
    expect(refusals[0]).toMatchObject({ isError: true, toolResult: { code: 'TOOL_NOT_ALLOWED' } });
    // The model saw its refused call's result before calling again.
    expect(fake.requests.at(-1)!.body.messages.some((m) => m.role === 'tool')).toBe(true);
  });

  it('refuses a second message while a turn runs, cancels the turn on request, and stays usable', async () => {
    const session = await startSession({ model: 'fake:slow' });
    fake.replies.push({ kind: 'stall', text: 'Let me think this through' });
    const first = await send(session.conversationId, 'Take your time.', false);
    expect(first.statusCode).toBe(202);
    // The start of the answer has streamed out before the cancel.
    await expect
      .poll(
        async () =>
          (
            await t.runtime.database.db
              .selectFrom('events')
              .select('id')
              .where('topic', '=', `session:${session.id}`)
              .where('type', '=', 'message.delta')
              .execute()
          ).length,
      )
      .toBeGreaterThan(0);
    const busy = await send(session.conversationId, 'Hello?', false);
    expect(busy.statusCode).toBe(409);
    expect(busy.json().error.code).toBe('SESSION_BUSY');

    expect((await call('POST', `/v1/sessions/${session.id}/cancel`)).json()).toEqual({ cancelled: true });
    const turns = await t.runtime.database.db.selectFrom('turns').select(['id', 'status']).where('session_id', '=', session.id).execute();
    expect(turns).toEqual([{ id: first.json().turnId, status: 'cancelled' }]);
    expect((await call('GET', `/v1/sessions/${session.id}`)).json().session.status).toBe('running');
    // What clients saw stream out is kept as the turn's answer, and the cut-off call is on record.
    const transcript = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json().messages;
    expect(transcript.map((m: { role: string; content: string }) => [m.role, m.content])).toEqual([
      ['user', 'Take your time.'],
      ['assistant', 'Let me think this through'],
    ]);
    expect(await modelCalls(session.id)).toEqual([
      expect.objectContaining({ step: 1, model: 'fake:slow', error: expect.objectContaining({ code: 'CANCELLED' }) }),
    ]);

    fake.replies.push({ kind: 'text', text: 'Back again, and here is the answer.' });
    const again = (await send(session.conversationId, 'Still there?')).json();
    expect(again.turn.status).toBe('completed');
    expect(again.message.content).toBe('Back again, and here is the answer.');
    expect((await call('POST', `/v1/sessions/${session.id}/cancel`)).json()).toEqual({ cancelled: false });
  });

  it('ends a turn whose model fails as failed, counts the error, and the session goes on', async () => {
    const session = await startSession({ model: 'fake:flaky' });
    fake.replies.push({ kind: 'fail', status: 500 });
    const failed = (await send(session.conversationId, 'Hello?')).json();
    expect(failed.turn).toMatchObject({ status: 'failed', error: { code: 'MODEL_API_ERROR' } });
    const read = (await call('GET', `/v1/sessions/${session.id}`)).json().session;
    expect(read).toMatchObject({ status: 'running', counters: { errors: 1 }, lastError: { code: 'MODEL_API_ERROR' } });
    fake.replies.push({ kind: 'text', text: 'Working again.' });
    expect((await send(session.conversationId, 'And now?')).json().message.content).toBe('Working again.');
    // Both model calls are on record: the failure with its error, the answer with its tokens.
    const calls = await modelCalls(session.id);
    expect(calls).toEqual([
      expect.objectContaining({
        step: 1,
        model: 'fake:flaky',
        input_tokens: 0,
        error: expect.objectContaining({ code: 'MODEL_API_ERROR' }),
      }),
      expect.objectContaining({ step: 1, model: 'fake:flaky', input_tokens: 11, error: null }),
    ]);
    expect(calls[1]!.latency_ms).toBeGreaterThanOrEqual(0);
  });

  it("runs an administrator's custom tool with the call's idempotency key, and checks its arguments against its schema", async () => {
    const session = await startSession();
    expect((await call('GET', `/v1/sessions/${session.id}`)).json().session.tools).toEqual(['knowledge_search', 'apply_effect', '*__*']);
    const { turn } = (await send(session.conversationId, '/tool apply_effect {"label":"invoice"}')).json();
    expect(turn.status).toBe('completed');
    const key = `${session.id}:${turn.id}:1:0`;
    expect(effects.get(key)).toBe(1);
    const transcript = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json().messages;
    expect(transcript.find((m: { role: string }) => m.role === 'tool').toolResult).toEqual({
      label: 'invoice',
      userId: t.userId,
      idempotencyKey: key,
      count: 1,
    });

    const before = effects.size;
    await send(session.conversationId, '/tool apply_effect {"label": 7}');
    const refused = (await call('GET', `/v1/conversations/${session.conversationId}/messages`))
      .json()
      .messages.filter((m: { role: string }) => m.role === 'tool')
      .at(-1);
    expect(refused).toMatchObject({ isError: true, toolResult: { code: 'TOOL_INPUT_INVALID' } });
    expect(effects.size).toBe(before);
  });

  it('completes a template session when the agent says it has worked through the steps', async () => {
    const template = (
      await call('POST', '/v1/templates', {
        slug: 'two-steps',
        name: 'Two steps',
        description: 'Does two things.',
        category: 'Testing',
        systemPrompt: 'Do the two things.',
        steps: [{ instruction: 'Do the first thing.' }, { instruction: 'Do the second thing.' }],
      })
    ).json().template;
    const agent = (
      await call('POST', '/v1/agents', { name: 'Finisher', model: 'fake:finisher', templateId: template.id, tools: [] })
    ).json().agent;
    const session = (await call('POST', '/v1/sessions', { agentId: agent.id })).json().session;
    expect(session.tools).toEqual(['complete_session']);
    const requestsBefore = fake.requests.length;
    fake.replies.push({ kind: 'tool-call', name: 'complete_session', arguments: { summary: 'Both things are done.' } });
    const { turn } = (await send(session.conversationId, 'Go.')).json();
    expect(turn.status).toBe('completed');
    expect(fake.requests.length - requestsBefore).toBe(1); // nothing asked of the model after it finished
    expect(fake.requests.at(-1)!.body.messages[0]!.content).toContain('call complete_session');

    const read = (await call('GET', `/v1/sessions/${session.id}`)).json().session;
    expect(read).toMatchObject({
      status: 'completed',
      completedAt: expect.any(String),
      checkpoints: { latest: { reason: 'status', step: 1 } },
    });
    const changed = await t.runtime.database.db
      .selectFrom('events')
      .select('data')
      .where('topic', '=', `session:${session.id}`)
      .where('type', '=', 'session.status_changed')
      .orderBy('id')
      .execute();
    expect(changed.at(-1)!.data).toMatchObject({ from: 'running', to: 'completed', reason: expect.stringContaining('finished') });
    expect((await send(session.conversationId, 'Again?')).json().error.code).toBe('SESSION_NOT_RUNNING');
  });

  it('starts a session with the default agent at the first message of a conversation of its own', async () => {
    const created = await call('POST', '/v1/conversations', { title: 'Questions' });
    expect(created.statusCode, created.body).toBe(201);
    const conversation = created.json().conversation;
    expect(conversation).toMatchObject({ title: 'Questions', sessionId: null });
    const { turn, message } = (await send(conversation.id, 'How long do refunds take?')).json();
    expect(turn.status).toBe('completed');
    expect(message.content).toContain('14 days');
    const owner = await t.runtime.database.db
      .selectFrom('conversations')
      .select('session_id')
      .where('id', '=', conversation.id)
      .executeTakeFirstOrThrow();
    const session = (await call('GET', `/v1/sessions/${owner.session_id}`)).json().session;
    expect(session).toMatchObject({ conversationId: conversation.id, model: 'local:offline', counters: { messages: 4 } });
    expect((await call('POST', `/v1/conversations/${conversation.id}/messages`, { content: 'hi' }, t.adminToken)).statusCode).toBe(404);
    expect((await call('POST', '/v1/conversations', { title: 'x'.repeat(201) })).json().error.code).toBe('VALIDATION_FAILED');
    expect((await call('POST', '/v1/conversations', { sessionId: conversation.id })).statusCode).toBe(400);
  });

  it('refuses a tool call whose name and id are longer than any tool has, and the turn goes on', async () => {
    const session = await startSession({ model: 'fake:rambler' });
    fake.replies.push({ kind: 'tool-call', name: `tool_${'x'.repeat(300)}`, id: `call_${'y'.repeat(300)}`, arguments: {} });
    fake.replies.push({ kind: 'text', text: 'No such tool, then.' });
    const { turn, message } = (await send(session.conversationId, 'Go.')).json();
    expect(turn.status).toBe('completed');
    expect(message.content).toBe('No such tool, then.');
    const refusal = (await call('GET', `/v1/conversations/${session.conversationId}/messages`))
      .json()
      .messages.find((m: { role: string }) => m.role === 'tool');
    expect(refusal).toMatchObject({ isError: true, toolResult: { code: 'TOOL_NOT_ALLOWED' } });
    expect(refusal.toolCallId).toHaveLength(305);
  });

  it('removes finished sessions past their retention with their events, and unused conversations, and keeps running ones and what was spent', async () => {
    const old = await startSession();
    await send(old.conversationId, 'A note to forget.');
    await call('POST', `/v1/sessions/${old.id}/status`, { status: 'completed' });
    const idle = await startSession();
    const recent = await startSession();
    await call('POST', `/v1/sessions/${recent.id}/status`, { status: 'completed' });
    const { db } = t.runtime.database;
    await db
      .updateTable('agent_sessions')
      .set({ last_active_at: new Date(Date.now() - 100 * 86_400_000) })
      .where('id', 'in', [old.id, idle.id])
      .execute();
    const unused = (await call('POST', '/v1/conversations', {})).json().conversation;
    await sql`update conversations set created_at = now() - interval '100 days' where id = ${unused.id}`.execute(db);
    const spentBefore = await db.selectFrom('model_calls').select('seq').where('session_id', '=', old.id).execute();
    expect(spentBefore.length).toBeGreaterThan(0);

    expect(await removeFinishedSessions(t.runtime.database, 90)).toBe(1);
    expect((await call('GET', `/v1/sessions/${old.id}`)).statusCode).toBe(404);
    expect((await call('GET', `/v1/sessions/${idle.id}`)).statusCode).toBe(200); // still running: kept
    expect((await call('GET', `/v1/sessions/${recent.id}`)).statusCode).toBe(200); // finished lately: kept
    expect(await db.selectFrom('events').select('id').where('topic', '=', `session:${old.id}`).execute()).toEqual([]);
    expect(await db.selectFrom('messages').select('id').where('session_id', '=', old.id).execute()).toEqual([]);
    expect(await db.selectFrom('conversations').select('id').where('id', '=', unused.id).execute()).toEqual([]);
    expect(
      await db
        .selectFrom('model_calls')
        .select('seq')
        .where(
          'seq',
          'in',
          spentBefore.map((r) => r.seq),
        )
        .execute(),
    ).toHaveLength(spentBefore.length);
  });

  describe('recovery', () => {
    /** A turn as an instance that died would leave it: running, its lease expired. */
    const orphanedTurn = async (session: { id: string; conversationId: string }, recoveries: number) => {
      const { db } = t.runtime.database;
      const turn = await db
        .insertInto('turns')
        .values({
          session_id: session.id,
          conversation_id: session.conversationId,
          user_id: t.userId,
          status: 'running',
          lease_owner: 'gone/0',
          lease_expires_at: new Date(Date.now() - 1000),
          recoveries,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return turn.id;
    };

    it('resumes a turn whose instance went away: the recorded message gets its answer', async () => {
      const session = await startSession();
      const { db } = t.runtime.database;
      const turnId = await orphanedTurn(session, 0);
      await db
        .insertInto('messages')
        .values({
          conversation_id: session.conversationId,
          session_id: session.id,
          user_id: t.userId,
          turn_id: turnId,
          role: 'user',
          content: 'How long do refunds take?',
        })
        .execute();
      await expect
        .poll(async () => (await db.selectFrom('turns').select('status').where('id', '=', turnId).executeTakeFirstOrThrow()).status, {
          timeout: 10_000,
        })
        .toBe('completed');
      const transcript = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json().messages;
      expect(transcript.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
      expect(transcript.at(-1).content).toContain('14 days');
      expect(await db.selectFrom('turns').select(['recoveries', 'lease_owner']).where('id', '=', turnId).executeTakeFirstOrThrow()).toEqual(
        { recoveries: 1, lease_owner: null },
      );
    });

    it('fails the session of a turn interrupted more often than SESSION_MAX_RECOVERIES allows', async () => {
      const session = await startSession();
      const turnId = await orphanedTurn(session, 3);
      await expect
        .poll(async () => (await call('GET', `/v1/sessions/${session.id}`)).json().session.status, { timeout: 10_000 })
        .toBe('failed');
      expect((await call('GET', `/v1/sessions/${session.id}`)).json().session.lastError).toMatchObject({ code: 'RECOVERY_EXHAUSTED' });
      const turn = await t.runtime.database.db
        .selectFrom('turns')
        .select(['status', 'error'])
        .where('id', '=', turnId)
        .executeTakeFirstOrThrow();
      expect(turn).toMatchObject({ status: 'failed', error: { code: 'RECOVERY_EXHAUSTED' } });
    });

    it('waits for the user on a call that may have run, then retries it or fails the session as they decide', async () => {
      const { db } = t.runtime.database;
      const suspended = async () => {
        const session = await startSession();
        const turnId = await orphanedTurn(session, 0);
        await db
          .updateTable('turns')
          .set({ status: 'suspended', lease_owner: null, lease_expires_at: null })
          .where('id', '=', turnId)
          .execute();
        await db
          .insertInto('messages')
          .values({
            conversation_id: session.conversationId,
            session_id: session.id,
            user_id: t.userId,
            turn_id: turnId,
            role: 'user',
            content: 'Charge it.',
          })
          .execute();
        await db
          .insertInto('messages')
          .values({
            conversation_id: session.conversationId,
            session_id: session.id,
            user_id: t.userId,
            turn_id: turnId,
            step: 1,
            role: 'assistant',
            tool_calls: toJsonText([{ callId: 'c1', tool: 'apply_effect', input: { label: 'invoice' } }]),
          })
          .execute();
        const key = `${session.id}:${turnId}:1:0`;
        await db
          .insertInto('tool_calls')
          .values({
            idempotency_key: key,
            session_id: session.id,
            turn_id: turnId,
            user_id: t.userId,
            step: 1,
            call_index: 0,
            call_id: 'c1',
            tool: 'apply_effect',
            input: toJsonText({ label: 'invoice' }),
            idempotent: false,
            status: 'started',
            attempts: 1,
          })
          .execute();
        await db.updateTable('agent_sessions').set({ status: 'paused' }).where('id', '=', session.id).execute();
        return { session, turnId, key };
      };

      const retried = await suspended();
      // Whoever opens the session sees the decision it waits for.
      expect((await call('GET', `/v1/sessions/${retried.session.id}`)).json().session.activeTurn).toEqual({
        id: retried.turnId,
        status: 'suspended',
      });
      expect((await call('POST', `/v1/sessions/${retried.session.id}/status`, { status: 'running' })).json().error.code).toBe(
        'TOOL_OUTCOME_UNKNOWN',
      );
      expect((await call('POST', `/v1/sessions/${retried.session.id}/resolve`, { action: 'retry' }, t.adminToken)).statusCode).toBe(404);
      expect((await call('POST', `/v1/sessions/${retried.session.id}/resolve`, { action: 'later' })).statusCode).toBe(400);
      const resolved = await call('POST', `/v1/sessions/${retried.session.id}/resolve`, { action: 'retry' });
      expect(resolved.statusCode, resolved.body).toBe(200);
      expect(resolved.json().session.status).toBe('running');
      await expect
        .poll(async () => (await db.selectFrom('turns').select('status').where('id', '=', retried.turnId).executeTakeFirstOrThrow()).status)
        .toBe('completed');
      expect(effects.get(retried.key)).toBe(1);
      expect((await call('POST', `/v1/sessions/${retried.session.id}/resolve`, { action: 'retry' })).json().error.code).toBe(
        'NOTHING_TO_RESOLVE',
      );

      const failed = await suspended();
      expect((await call('POST', `/v1/sessions/${failed.session.id}/resolve`, { action: 'fail' })).json().session).toMatchObject({
        status: 'failed',
      });
      expect(await db.selectFrom('turns').select('status').where('id', '=', failed.turnId).executeTakeFirstOrThrow()).toEqual({
        status: 'failed',
      });
      expect(effects.has(failed.key)).toBe(false);
    });
  });

  it('restores a session to a checkpoint: later messages go, its context and counts come back, and it goes on', async () => {
    const session = await startSession();
    await send(session.conversationId, 'First note, nothing to look up.');
    const checkpoint = (await call('POST', `/v1/sessions/${session.id}/checkpoints`, { name: 'after the first turn' })).json().checkpoint;
    await send(session.conversationId, 'Second note, nothing to look up.');
    await call('POST', `/v1/sessions/${session.id}/status`, { status: 'completed' });
    expect((await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json().messages).toHaveLength(4);

    const restored = await call('POST', `/v1/sessions/${session.id}/restore`, { checkpointId: checkpoint.id });
    expect(restored.statusCode, restored.body).toBe(200);
    const read = (await call('GET', `/v1/sessions/${session.id}`)).json().session;
    expect(read).toMatchObject({
      status: 'running',
      completedAt: null,
      counters: { messages: 2 },
      checkpoints: { latest: { reason: 'restore' } },
    });
    const transcript = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json().messages;
    expect(transcript.map((m: { content: string }) => m.content.slice(0, 11))).toEqual(['First note,', expect.any(String)]);
    expect((await send(session.conversationId, 'Third note.')).json().turn.status).toBe('completed');
    expect((await call('POST', `/v1/sessions/${session.id}/restore`, { checkpointId: session.id })).json().error.code).toBe(
      'CHECKPOINT_NOT_FOUND',
    );
    expect((await call('POST', `/v1/sessions/${session.id}/restore`, { checkpointId: checkpoint.id }, t.adminToken)).statusCode).toBe(404);
  });

  it('survives a session deleted while its turn runs', async () => {
    const session = await startSession({ model: 'fake:slow' });
    fake.replies.push({ kind: 'stall' });
    const asked = fake.requests.length;
    expect((await send(session.conversationId, 'Take your time.', false)).statusCode).toBe(202);
    // Deleted while the model call runs (not while the turn's first write races the delete).
    await expect.poll(() => fake.requests.length).toBe(asked + 1);
    expect((await call('DELETE', `/v1/sessions/${session.id}`)).statusCode).toBe(204);
    expect(await t.runtime.runner.cancel(session.id)).toBe(true);
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect(await t.runtime.database.db.selectFrom('turns').select('id').where('session_id', '=', session.id).execute()).toEqual([]);
  });

  it("refuses messages to a paused session, to another user's conversation, and oversized ones", async () => {
    const session = await startSession();
    await call('POST', `/v1/sessions/${session.id}/status`, { status: 'paused' });
    const paused = await send(session.conversationId, 'Hello?');
    expect(paused.statusCode).toBe(409);
    expect(paused.json().error).toMatchObject({ code: 'SESSION_NOT_RUNNING', message: 'The session is paused: resume it first.' });
    const other = await call('POST', `/v1/conversations/${session.conversationId}/messages`, { content: 'hi' }, t.adminToken);
    expect(other.statusCode).toBe(404);
    expect((await call('GET', `/v1/conversations/${session.conversationId}/messages`, undefined, t.adminToken)).statusCode).toBe(404);
    expect((await call('POST', `/v1/sessions/${session.id}/cancel`, undefined, t.adminToken)).statusCode).toBe(404);
    const huge = await send(session.conversationId, 'x'.repeat(1024 * 1024));
    expect(huge.statusCode).toBe(413);
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  describe('the template-chat bridge', () => {
    const chat = async (message: string) => {
      const response = await call('POST', '/v1/chat', { message });
      expect(response.statusCode, response.body).toBe(200);
      return response.json();
    };
    // The answer ends the turn: a reply with no tool call, or (a template run) the one that completes the session.
    const finalAnswer = async (conversationId: string) => {
      for (let i = 0; i < 100; i++) {
        const messages = (await call('GET', `/v1/conversations/${conversationId}/messages`)).json().messages;
        const last = messages.findLast((m: { role: string }) => m.role === 'assistant');
        const calls = (last?.toolCalls ?? []) as Array<{ tool: string }>;
        const ended = calls.length === 0 || calls.every((c) => c.tool === 'complete_session');
        // complete_session's result is written with the completion, in one transaction.
        const settled = calls.length === 0 ? messages.at(-1) === last : messages.at(-1)?.role === 'tool';
        if (last && ended && settled) return last.content as string;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error('the turn did not finish');
    };

    it('starts the matching template with the variables the message states, and runs it', async () => {
      const result = await chat('what do my uploaded documents say about the refund policy?');
      expect(result).toMatchObject({ executed: true, sessionId: expect.any(String), turnId: expect.any(String) });
      const session = (await call('GET', `/v1/sessions/${result.sessionId}`)).json().session;
      const qa = (await call('GET', '/v1/templates/document-qa')).json().template;
      expect(session).toMatchObject({
        templateId: qa.id,
        variables: { question: 'what do my uploaded documents say about the refund policy?' },
        tools: ['knowledge_search', 'complete_session'],
      });
      expect(await finalAnswer(result.conversationId)).toContain('Refunds are paid within 14 days');
      // With no language model, the offline responder follows the template's steps to the end of the run.
      expect((await call('GET', `/v1/sessions/${result.sessionId}`)).json().session.status).toBe('completed');
    });

    it('asks for the variables the message does not give, and runs once they are there', async () => {
      await call('POST', '/v1/templates', {
        slug: 'expense-report',
        name: 'Expense report',
        description: 'Files the monthly expense report.',
        category: 'Finance',
        systemPrompt: 'File the expense report for {{month}}.',
        variables: [{ name: 'month', type: 'enum', values: ['january', 'february', 'march'], required: true, description: 'Which month' }],
        examples: ['file my expense report', 'submit my expense report for the month'],
      });
      const asked = await chat('please file my expense report');
      expect(asked).toMatchObject({ executed: false, missingVariables: [{ name: 'month', type: 'enum', description: 'Which month' }] });
      const ran = await chat('please file my expense report for march');
      expect(ran.executed).toBe(true);
      expect((await call('GET', `/v1/sessions/${ran.sessionId}`)).json().session.variables).toEqual({ month: 'march' });
    });

    it('suggests instead of running when nothing matches well, or the match needs integrations', async () => {
      const joke = await chat('tell me a joke');
      expect(joke.executed).toBe(false);
      expect(joke.suggestions.length).toBeGreaterThan(0);
      expect(joke.suggestions[0].confidence).toBeLessThan(t.config.templates.matchThreshold);
      const triage = await chat('triage my inbox and draft replies');
      expect(triage).toMatchObject({ executed: false, missingIntegrations: ['gmail'] });
    });
  });
});

// Loading a custom tool module needs no database, so this runs once rather than per driver.
describe('custom tool modules', () => {
  it('refuses to start with a custom tool module that is not a tool', async () => {
    await expect(loadCustomTools(['/nonexistent/tool.mjs'], [])).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('cannot be loaded'),
    });
    const fixture = new URL('../../test/fixtures/effect-counter-tool.ts', import.meta.url).pathname;
    await expect(loadCustomTools([fixture, fixture], [])).rejects.toMatchObject({
      message: expect.stringContaining('"apply_effect" is taken'),
    });
  });
});
