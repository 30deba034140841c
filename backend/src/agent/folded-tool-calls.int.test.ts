import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatCompletions, type FakeChatCompletions } from '../../test/fake-chat-completions.ts';
import { idempotentRuns, whileRunning } from '../../test/fixtures/idempotent-effect-tool.ts';
import { openHeldTurn } from '../../test/held-turn.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import type { HeldTurn, ModelAnswer } from '../sessions/index.ts';

/**
 * A call of an idempotent tool that runs at once has no begin or completion of its own: its
 * `tool.started` goes out with the step's answer and its ledger entry is completed with the step's
 * results. The ledger and the session's topic read as they did, and a crash (here: the lease taken
 * over) between the answer and the results leaves the call `started`, to run again.
 */
describe.each(drivers)('folded calls of idempotent tools on %s', (driver) => {
  let t: TestApp;
  let fake: FakeChatCompletions;
  beforeAll(async () => {
    fake = await startFakeChatCompletions();
    t = await createTestApp(driver, {
      MODEL_ENDPOINTS: `fake=${fake.url}`,
      CUSTOM_TOOLS: 'backend/test/fixtures/effect-counter-tool.ts,backend/test/fixtures/idempotent-effect-tool.ts',
      SESSION_RECOVERY_INTERVAL_MS: '100',
      TRIGGER_TICK_MS: '60000',
    });
  });
  afterEach(() => {
    whileRunning.hook = undefined;
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const db = () => t.runtime.database.db;
  const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: bearer(t.userToken), ...(payload ? { payload } : {}) });

  async function newSession(): Promise<{ id: string; conversationId: string }> {
    const agent = (await call('POST', '/v1/agents', { name: 'Folded', model: 'fake:folded' })).json().agent;
    return (await call('POST', '/v1/sessions', { agentId: agent.id })).json().session;
  }

  const ledgerOf = (sessionId: string) =>
    db()
      .selectFrom('tool_calls')
      .select(['idempotency_key', 'tool', 'status', 'attempts', 'result', 'is_error', 'duration_ms', 'finished_at'])
      .where('session_id', '=', sessionId)
      .orderBy('step')
      .orderBy('call_index')
      .execute();

  const eventsOf = (sessionId: string) =>
    db().selectFrom('events').select(['type', 'data']).where('topic', '=', `session:${sessionId}`).orderBy('id').execute();

  it('completes the ledger entry with its result, and tells of its start before its completion', async () => {
    const session = await newSession();
    fake.replies.push({ kind: 'tool-call', name: 'record_effect', arguments: { label: 'once' }, id: 'call_once' });
    fake.replies.push({ kind: 'text', text: 'Done.' });
    const sent = await call('POST', `/v1/conversations/${session.conversationId}/messages?wait=true`, { content: 'Go.' });
    expect(sent.json().turn.status).toBe('completed');
    const [entry, ...others] = await ledgerOf(session.id);
    expect(others).toEqual([]);
    expect(entry).toMatchObject({
      tool: 'record_effect',
      status: 'completed',
      attempts: 1,
      is_error: false,
      result: { label: 'once', idempotencyKey: entry!.idempotency_key },
    });
    expect(entry!.duration_ms).not.toBeNull();
    expect(entry!.finished_at).not.toBeNull();
    const events = (await eventsOf(session.id)).filter((e) => e.type === 'message.completed' || e.type.startsWith('tool.'));
    // The user's message, the answer that calls the tool, the call, the final answer.
    expect(events.map((e) => e.type)).toEqual([
      'message.completed',
      'message.completed',
      'tool.started',
      'tool.completed',
      'message.completed',
    ]);
    expect(events[2]!.data).toEqual({ sessionId: session.id, callId: 'call_once', tool: 'record_effect', arguments: { label: 'once' } });
  });

  it('runs the call again on resume when the lease was taken over between the answer and the results', async () => {
    const session = await newSession();
    const seen: Array<{ status: string; attempts: number }> = [];
    whileRunning.hook = async (key) => {
      const turnId = key!.split(':')[1]!;
      const row = await db()
        .selectFrom('tool_calls')
        .select(['status', 'attempts'])
        .where('idempotency_key', '=', key!)
        .executeTakeFirstOrThrow();
      seen.push(row);
      if (seen.length > 1) return;
      // As a crash of this instance would leave it, for another to reclaim: the lease expired, held by no one alive.
      await db()
        .updateTable('turns')
        .set({ lease_owner: 'gone/0', lease_expires_at: new Date(Date.now() - 1000) })
        .where('id', '=', turnId)
        .execute();
    };
    fake.replies.push({ kind: 'tool-call', name: 'record_effect', arguments: { label: 'again' }, id: 'call_again' });
    fake.replies.push({ kind: 'text', text: 'Done.' });
    expect((await call('POST', `/v1/conversations/${session.conversationId}/messages`, { content: 'Go.' })).statusCode).toBe(202);
    const turn = () =>
      db().selectFrom('turns').select(['status', 'recoveries']).where('session_id', '=', session.id).executeTakeFirstOrThrow();
    await expect.poll(async () => (await turn()).status, { timeout: 10_000 }).toBe('completed');
    expect((await turn()).recoveries).toBe(1);
    // Begun with the answer, then again on its own by the resumed step, which cannot know whether it ran.
    expect(seen).toEqual([
      { status: 'started', attempts: 1 },
      { status: 'started', attempts: 2 },
    ]);
    const [entry] = await ledgerOf(session.id);
    expect(idempotentRuns.get(entry!.idempotency_key)).toBe(2);
    expect(entry).toMatchObject({ status: 'completed', attempts: 2, result: { label: 'again' } });
    const transcript = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json().messages;
    expect(transcript.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    const types = (await eventsOf(session.id)).map((e) => e.type).filter((type) => type.startsWith('tool.'));
    expect(types).toEqual(['tool.started', 'tool.started', 'tool.completed']);
  });

  describe('a step that mixes folded calls and calls begun on their own', () => {
    const heldTurn = async (): Promise<HeldTurn> => openHeldTurn(t, await newSession());

    const answer: ModelAnswer = {
      messageId: '',
      text: 'Calling.',
      calls: [
        { callId: 'call_0', tool: 'record_effect', input: { label: 'folded' } },
        { callId: 'call_1', tool: 'apply_effect', input: { label: 'begun' } },
      ],
      usage: { inputTokens: 10, outputTokens: 5 },
      cost: null,
      costEstimated: false,
      latencyMs: 12,
    };

    it.each([false, true])('completes both in the ledger, in the order of the calls (completing the session: %s)', async (complete) => {
      const turn = await heldTurn();
      const steps = t.runtime.sessions.turns.steps;
      const idempotent = (tool: string) => tool === 'record_effect';
      const { calls } = await steps.recordAnswer(turn, {
        step: 1,
        answer: { ...answer, messageId: crypto.randomUUID() },
        idempotent,
        folded: new Set([0]),
      });
      expect(calls.map((c) => c.status)).toEqual(['started', 'pending']);
      await steps.beginCall(turn, calls[1]!);
      await steps.completeCall(turn, calls[1]!, { isError: false, value: { applied: 1 }, durationMs: 2 });
      const results = [
        { entry: calls[0]!, folded: true, isError: false, value: { recorded: 0 }, durationMs: 3 },
        { entry: calls[1]!, isError: false, value: { applied: 1 }, durationMs: 2 },
      ];
      await steps.recordToolResults(turn, { step: 1, results, complete });
      expect((await ledgerOf(turn.session.id)).map((e) => [e.tool, e.status, e.attempts, e.result, e.duration_ms])).toEqual([
        ['record_effect', 'completed', 1, { recorded: 0 }, 3],
        ['apply_effect', 'completed', 1, { applied: 1 }, 2],
      ]);
      const events = (await eventsOf(turn.session.id)).filter(
        (e) => (e.type === 'message.completed' && (e.data as { role: string }).role === 'assistant') || e.type.startsWith('tool.'),
      );
      expect(events.map((e) => [e.type, (e.data as { callId?: string }).callId])).toEqual([
        ['message.completed', undefined],
        ['tool.started', 'call_0'],
        ['tool.started', 'call_1'],
        ['tool.completed', 'call_0'],
        ['tool.completed', 'call_1'],
      ]);
    });
  });
});
