import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatCompletions, type FakeChatCompletions } from '../../test/fake-chat-completions.ts';
import { openHeldTurn } from '../../test/held-turn.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import type { ModelAnswer } from './step-records.ts';
import { LeaseLost } from './turn-leases.ts';
import type { HeldTurn } from './turn-store.ts';

/**
 * A step's answer and its tool results are each one statement that commits on its own: what it
 * writes (session counters, model call, messages, ledger, checkpoint, events) exists only if the
 * statement found the turn's lease still held and, for the answer, the session still running.
 */
describe.each(drivers)('the fence of a step written in one statement on %s', (driver) => {
  let t: TestApp;
  let fake: FakeChatCompletions;
  beforeAll(async () => {
    fake = await startFakeChatCompletions();
    t = await createTestApp(driver, { MODEL_ENDPOINTS: `fake=${fake.url}` });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const db = () => t.runtime.database.db;
  const steps = () => t.runtime.sessions.turns.steps;

  /** A turn opened as the runner opens one, in a new session. */
  async function heldTurn(): Promise<HeldTurn> {
    const call = (url: string, payload: object) => t.app.inject({ method: 'POST', url, headers: bearer(t.userToken), payload });
    const agent = (await call('/v1/agents', { name: 'Fenced', model: 'fake:fenced' })).json().agent;
    return openHeldTurn(t, (await call('/v1/sessions', { agentId: agent.id })).json().session);
  }

  const answer = (calls: number): ModelAnswer => ({
    messageId: crypto.randomUUID(),
    text: calls === 0 ? 'Done.' : 'Calling.',
    calls: Array.from({ length: calls }, (_, i) => ({ callId: `call_${i}`, tool: 'apply_effect', input: { label: `call ${i}` } })),
    usage: { inputTokens: 10, outputTokens: 5 },
    cost: 0.001,
    costEstimated: false,
    latencyMs: 12,
  });

  /** Everything a step may write for the session, counted. */
  async function written(turn: HeldTurn) {
    const sessionId = turn.session.id;
    const count = (table: 'messages' | 'model_calls' | 'tool_calls' | 'session_checkpoints') =>
      db()
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('session_id', '=', sessionId)
        .executeTakeFirstOrThrow()
        .then((row) => Number(row.n));
    const events = await db().selectFrom('events').select('type').where('topic', '=', `session:${sessionId}`).orderBy('id').execute();
    const session = await db()
      .selectFrom('agent_sessions')
      .select(['version', 'message_count', 'tool_call_count', 'input_tokens'])
      .where('id', '=', sessionId)
      .executeTakeFirstOrThrow();
    const lease = await db().selectFrom('turns').select('lease_expires_at').where('id', '=', turn.turnId).executeTakeFirstOrThrow();
    return {
      messages: await count('messages'),
      modelCalls: await count('model_calls'),
      ledger: await count('tool_calls'),
      checkpoints: await count('session_checkpoints'),
      events: events.map((e) => e.type),
      session,
      leaseExpiresAt: lease.lease_expires_at?.toISOString(),
    };
  }

  it('writes a step and its checkpoint with the session as the same statement left it', async () => {
    const turn = await heldTurn();
    const before = await written(turn);
    const { calls, row } = await steps().recordAnswer(turn, { step: 1, answer: answer(1), idempotent: () => true });
    const result = { entry: calls[0]!, isError: false, value: { ok: true }, durationMs: 3 };
    const { messages, ...state } = await steps().recordToolResults(turn, { step: 1, results: [result], complete: false });
    expect(state).toEqual({ cancelRequested: false, sessionStatus: 'running' });
    // The rows the writes return are the rows as stored: the turn's next step reads no history.
    const stored = await db().selectFrom('messages').selectAll().where('turn_id', '=', turn.turnId).orderBy('seq').execute();
    expect([row, ...messages!]).toEqual(stored.slice(-2));
    const after = await written(turn);
    expect(after.events.slice(before.events.length)).toEqual(['message.completed', 'tool.completed', 'session.checkpoint']);
    expect({
      messages: after.messages - before.messages,
      ledger: after.ledger,
      checkpoints: after.checkpoints - before.checkpoints,
    }).toEqual({ messages: 2, ledger: 1, checkpoints: 1 });
    // The checkpoint holds the session as updated by its own statement, and the message it inserted.
    const session = await db().selectFrom('agent_sessions').selectAll().where('id', '=', turn.session.id).executeTakeFirstOrThrow();
    const checkpoint = await db()
      .selectFrom('session_checkpoints')
      .selectAll()
      .where('session_id', '=', turn.session.id)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    const { rows } = await sql<{ seq: string }>`select max(seq)::text as seq from messages where session_id = ${turn.session.id}`.execute(
      db(),
    );
    expect(checkpoint.message_seq).toBe(rows[0]!.seq);
    expect(checkpoint.state).toEqual({
      status: 'running',
      context: session.context,
      version: session.version,
      counters: { messages: session.message_count, toolCalls: session.tool_call_count, errors: session.error_count },
    });
  });

  it('writes nothing at all, and throws LeaseLost, once another execution took the turn over', async () => {
    const turn = await heldTurn();
    const { calls } = await steps().recordAnswer(turn, { step: 1, answer: answer(1), idempotent: () => true });
    await db().updateTable('turns').set({ lease_owner: 'another/instance' }).where('id', '=', turn.turnId).execute();
    const before = await written(turn);
    await expect(steps().recordAnswer(turn, { step: 2, answer: answer(1), idempotent: () => true })).rejects.toBeInstanceOf(LeaseLost);
    await expect(steps().recordAnswer(turn, { step: 2, answer: answer(0), idempotent: () => true })).rejects.toBeInstanceOf(LeaseLost);
    const result = { entry: calls[0]!, isError: false, value: { ok: true }, durationMs: 3 };
    await expect(steps().recordToolResults(turn, { step: 1, results: [result], complete: false })).rejects.toBeInstanceOf(LeaseLost);
    expect(await written(turn)).toEqual(before);
  });

  it('writes nothing of an answer, and throws SESSION_NOT_RUNNING, once the session stopped running', async () => {
    const turn = await heldTurn();
    await db().updateTable('agent_sessions').set({ status: 'paused' }).where('id', '=', turn.session.id).execute();
    const before = await written(turn);
    for (const calls of [1, 0])
      await expect(steps().recordAnswer(turn, { step: 1, answer: answer(calls), idempotent: () => true })).rejects.toMatchObject({
        code: 'SESSION_NOT_RUNNING',
      });
    expect(await written(turn)).toEqual(before);
  });
});
