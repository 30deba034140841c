import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

/**
 * The agent's level of the approval policy, set through the agents API: a `deny` takes the tool
 * off the model's list, an `ask` makes a call of a read-only tool wait, and an `allow` cannot
 * loosen the administrator's locked `ask` (CUSTOM_TOOL_APPROVALS `apply_effect=ask!`). The
 * sandbox's tools say what they are (`gmail__list_unread` is read-only: allowed by default).
 */
describe('agent approval rules through the API (PGlite, the sandbox, the offline model)', () => {
  let t: TestApp;

  const call = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: bearer(t.userToken), ...(payload === undefined ? {} : { payload: payload as object }) });

  beforeAll(async () => {
    t = await createTestApp('pglite', {
      CUSTOM_TOOLS: 'backend/test/fixtures/effect-counter-tool.ts',
      CUSTOM_TOOL_APPROVALS: 'apply_effect=ask!',
    });
    expect((await call('POST', '/v1/integrations/sandbox/connect')).statusCode).toBe(201);
    expect((await call('POST', '/v1/integrations/discover', { forceRefresh: true })).statusCode).toBe(200);
  });
  afterAll(() => t.close());

  /** Creates an agent with `rules`, starts a session of it, sends `/tool …`, and answers how the turn stands. */
  async function runWith(rules: Array<{ tool: string; decision: string }>, command: string) {
    const created = await call('POST', '/v1/agents', { name: `Rules ${Math.random()}`, approvalRules: rules });
    expect(created.statusCode, created.body).toBe(201);
    const agent = created.json<{ agent: { id: string; approvalRules: unknown } }>().agent;
    expect(agent.approvalRules).toEqual(rules);
    const session = (await call('POST', '/v1/sessions', { agentId: agent.id })).json<{ session: { id: string; conversationId: string } }>()
      .session;
    const sent = await call('POST', `/v1/conversations/${session.conversationId}/messages?wait=true`, { content: command });
    expect(sent.statusCode, sent.body).toBeLessThan(300);
    const turn = sent.json<{ turn: { status: string } }>().turn;
    const messages = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json<{
      messages: Array<{ role: string; content: string }>;
    }>().messages;
    const pending = (await call('GET', `/v1/approvals?sessionId=${session.id}`)).json<{ approvals: Array<{ tool: string }> }>().approvals;
    return { agent, session, turn, messages, pending };
  }

  it('keeps rules with the agent: shown, kept when a change leaves them out, replaced when it names them', async () => {
    const { agent } = await runWith([{ tool: 'slack__*', decision: 'ask' }], 'hello');
    const renamed = await call('PUT', `/v1/agents/${agent.id}`, { name: 'Renamed' });
    expect(renamed.json<{ agent: { approvalRules: unknown } }>().agent.approvalRules).toEqual([{ tool: 'slack__*', decision: 'ask' }]);
    const cleared = await call('PUT', `/v1/agents/${agent.id}`, { name: 'Renamed', approvalRules: [] });
    expect(cleared.json<{ agent: { approvalRules: unknown } }>().agent.approvalRules).toEqual([]);
    expect((await call('GET', `/v1/agents/${agent.id}`)).json<{ agent: { approvalRules: unknown } }>().agent.approvalRules).toEqual([]);
  });

  it('refuses a malformed rule, a decision it does not know, two rules for one tool and too many rules', async () => {
    for (const approvalRules of [
      [{ tool: 'gmail send', decision: 'ask' }],
      [{ tool: 'gmail__send_*', decision: 'maybe' }],
      [{ tool: 'x'.repeat(201), decision: 'ask' }],
      [
        { tool: 'slack__*', decision: 'ask' },
        { tool: 'slack__*', decision: 'deny' },
      ],
      Array.from({ length: 101 }, (_, i) => ({ tool: `tool_${i}`, decision: 'ask' })),
    ]) {
      const refused = await call('POST', '/v1/agents', { name: 'Bad rules', approvalRules });
      expect(refused.statusCode, JSON.stringify(approvalRules).slice(0, 100)).toBe(400);
      expect(refused.json<{ error: { code: string } }>().error.code).toBe('VALIDATION_FAILED');
    }
  });

  it("an agent's deny takes the tool off the model's list", async () => {
    const { turn, messages, pending } = await runWith([{ tool: 'gmail__list_*', decision: 'deny' }], '/tool gmail__list_unread {}');
    expect(turn.status).toBe('completed');
    expect(pending).toEqual([]);
    const answer = messages.find((m) => m.role === 'assistant')!.content;
    expect(answer).toContain('There is no tool "gmail__list_unread" in this conversation');
    expect(messages.some((m) => m.role === 'tool')).toBe(false);
  });

  it("an agent's ask makes a call of a read-only tool wait for approval", async () => {
    const { turn, pending } = await runWith([{ tool: 'gmail__list_unread', decision: 'ask' }], '/tool gmail__list_unread {}');
    expect(turn.status).toBe('awaiting_approval');
    expect(pending.map((a) => a.tool)).toEqual(['gmail__list_unread']);
  });

  it("an agent's allow does not loosen the administrator's locked ask", async () => {
    const { turn, pending } = await runWith([{ tool: 'apply_effect', decision: 'allow' }], '/tool apply_effect {"label": "locked"}');
    expect(turn.status).toBe('awaiting_approval');
    expect(pending.map((a) => a.tool)).toEqual(['apply_effect']);
  });
});
