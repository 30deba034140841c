import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { effects } from '../../test/fixtures/effect-counter-tool.ts';
import type { DatabaseDriver } from '../database/index.ts';

/**
 * Approvals are each user's own, and they end with their session: another user's call is 404 and
 * never listed; pausing a session drops its pending calls (`dropped`, which the model reads when
 * the session runs again), and completing or failing it drops them and ends the waiting turn.
 * `apply_effect` waits for approval by the administrator's rule (CUSTOM_TOOL_APPROVALS).
 */
function approvalLifecycle(driver: DatabaseDriver, cases: { all: boolean }) {
  let t: TestApp;
  let otherToken: string;

  const call = (method: 'GET' | 'POST', url: string, payload?: unknown, token = t.userToken) =>
    t.app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });

  beforeAll(async () => {
    t = await createTestApp(driver, {
      CUSTOM_TOOLS: 'backend/test/fixtures/effect-counter-tool.ts',
      CUSTOM_TOOL_APPROVALS: 'apply_effect=ask',
      APPROVAL_TIMEOUT: '0',
      SESSION_RECOVERY_INTERVAL_MS: '100',
    });
    otherToken = (await t.runtime.users.create({ email: 'other@example.test' }, { userId: null, ip: null })).token;
  });
  afterAll(() => t.close());

  /** A session of the token's user whose turn waits for approval of one `apply_effect` call. */
  async function waiting(label: string, token = t.userToken) {
    const session = (await call('POST', '/v1/sessions', {}, token)).json<{ session: { id: string; conversationId: string } }>().session;
    const sent = await call(
      'POST',
      `/v1/conversations/${session.conversationId}/messages?wait=true`,
      { content: `/tool apply_effect {"label": "${label}"}` },
      token,
    );
    const turn = sent.json<{ turn: { id: string; status: string } }>().turn;
    expect(turn.status).toBe('awaiting_approval');
    const [approval] = (await call('GET', `/v1/approvals?sessionId=${session.id}`, undefined, token)).json<{
      approvals: Array<{ callId: string }>;
    }>().approvals;
    return { ...session, turnId: turn.id, callId: approval!.callId, decide: `/v1/sessions/${session.id}/approvals/${approval!.callId}` };
  }

  const turnStatus = async (turnId: string) => (await call('GET', `/v1/turns/${turnId}/timeline`)).json<{ status: string }>().status;

  /** What a second decision is told: the call's outcome, already recorded. */
  async function outcomeOf(path: string): Promise<string> {
    const late = await call('POST', path, { action: 'approve' });
    expect(late.statusCode, late.body).toBe(409);
    const { error } = late.json<{ error: { code: string; details: { outcome: string } } }>();
    expect(error.code).toBe('APPROVAL_DECIDED');
    return error.details.outcome;
  }

  it('pausing drops the pending calls; once resumed, the model reads APPROVAL_DROPPED and the turn finishes without running them', async () => {
    const before = effects.size;
    const session = await waiting('paused');
    const paused = await call('POST', `/v1/sessions/${session.id}/status`, { status: 'paused' });
    expect(paused.statusCode, paused.body).toBe(200);
    expect((await call('GET', `/v1/approvals?sessionId=${session.id}`)).json<{ approvals: unknown[] }>().approvals).toEqual([]);
    expect(await outcomeOf(session.decide)).toBe('dropped');

    expect((await call('POST', `/v1/sessions/${session.id}/status`, { status: 'running' })).statusCode).toBe(200);
    await expect.poll(() => turnStatus(session.turnId), { timeout: 15_000, interval: 50 }).toBe('completed');
    const messages = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json<{
      messages: Array<{ role: string; isError: boolean; toolResult: unknown }>;
    }>().messages;
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(messages[2]).toMatchObject({ isError: true, toolResult: { code: 'APPROVAL_DROPPED' } });
    expect(effects.size).toBe(before);
  }, 30_000);

  if (!cases.all) return;

  it("another user's call answers 404 and is never listed; each user sees only their own", async () => {
    const before = effects.size;
    const mine = await waiting('mine');
    const theirs = await waiting('theirs', otherToken);
    const listed = async (token: string, query = '') =>
      (await call('GET', `/v1/approvals${query}`, undefined, token))
        .json<{ approvals: Array<{ sessionId: string }> }>()
        .approvals.map((a) => a.sessionId);
    expect(await listed(t.userToken)).toContain(mine.id);
    expect(await listed(t.userToken)).not.toContain(theirs.id);
    expect(await listed(otherToken)).toEqual([theirs.id]);
    expect(await listed(otherToken, `?sessionId=${mine.id}`)).toEqual([]);

    const stolen = await call('POST', mine.decide, { action: 'approve' }, otherToken);
    expect(stolen.statusCode).toBe(404);
    expect(stolen.json<{ error: { code: string } }>().error.code).toBe('APPROVAL_NOT_FOUND');
    // Their own session's id with my call's id: still not theirs.
    const crossed = await call('POST', `/v1/sessions/${theirs.id}/approvals/${mine.callId}`, { action: 'approve' }, otherToken);
    expect(crossed.statusCode).toBe(404);
    expect(await listed(t.userToken)).toContain(mine.id);
    expect(effects.size).toBe(before);
  });

  it.each(['completed', 'failed'] as const)('a session %s drops its pending calls and ends the waiting turn', async (status) => {
    const session = await waiting(status);
    const changed = await call('POST', `/v1/sessions/${session.id}/status`, { status });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(await outcomeOf(session.decide)).toBe('dropped');
    expect(await turnStatus(session.turnId)).toBe('cancelled');
    expect((await call('GET', `/v1/approvals?sessionId=${session.id}`)).json<{ approvals: unknown[] }>().approvals).toEqual([]);
  });
}

describe('approvals and their session, on PGlite', () => approvalLifecycle('pglite', { all: true }));
describe('approvals and their session, on PostgreSQL', () => approvalLifecycle('postgres', { all: false }));
