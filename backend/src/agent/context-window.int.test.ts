import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatCompletions, type ChatRequest, type FakeChatCompletions } from '../../test/fake-chat-completions.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import { summaryInstructions } from './conversation-summariser.ts';

const window = 8192;

/** What the local model answers: a log look-up for each question, a line about it, summaries when asked. */
function respond(body: ChatRequest['body']) {
  const system = body.messages.find((m) => m.role === 'system')?.content;
  if (typeof system === 'string' && system.startsWith(summaryInstructions.slice(0, 40)))
    return { kind: 'text' as const, text: 'The user asked for the logs of several services; each showed upstream timeouts.' };
  const last = body.messages.at(-1)!;
  if (last.role === 'user') {
    const service = /svc-\d+/.exec(String(last.content))?.[0] ?? 'svc-0';
    return { kind: 'tool-call' as const, name: 'tail_log', arguments: { service }, id: `call_${service}` };
  }
  if (last.role === 'tool') return { kind: 'text' as const, text: 'The log shows upstream timeouts.' };
  return undefined;
}

describe.each(drivers)('context that fits the window on %s (a local model server that refuses prompts over 8192 tokens)', (driver) => {
  let t: TestApp;
  let fake: FakeChatCompletions;
  beforeAll(async () => {
    fake = await startFakeChatCompletions({ contextWindow: window });
    fake.respond = respond;
    t = await createTestApp(driver, {
      MODEL_ENDPOINTS: `small=${fake.url}`,
      MODEL_CONTEXT_WINDOWS: `small:*=${window}`,
      MODEL_OUTPUT_RESERVE: '1024',
      MODEL_MAX_RETRIES: '0',
      CUSTOM_TOOLS: 'backend/test/fixtures/log-tail-tool.ts',
    });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const call = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: bearer(t.userToken), ...(payload === undefined ? {} : { payload: payload as object }) });
  const startSession = async () => {
    const agent = (await call('POST', '/v1/agents', { name: 'Triage', model: 'small:llama' })).json().agent;
    return (await call('POST', '/v1/sessions', { agentId: agent.id })).json().session as { id: string; conversationId: string };
  };

  it('runs a 40-turn session with large tool results to the end: older results shortened, older turns summarised', async () => {
    const session = await startSession();
    fake.requests.length = 0;
    for (let i = 1; i <= 40; i++) {
      const { turn } = (
        await call('POST', `/v1/conversations/${session.conversationId}/messages?wait=true`, { content: `Check svc-${i}.` })
      ).json();
      expect(turn, `turn ${i}: ${JSON.stringify(turn)}`).toMatchObject({ status: 'completed' });
    }
    // Every request fitted the window: the server never had to refuse one.
    for (const request of fake.requests) expect(request.promptTokens + (request.body.max_tokens ?? 0)).toBeLessThanOrEqual(window);
    const summaries = fake.requests.filter((r) => JSON.stringify(r.body.messages[0]).includes('You summarise conversations'));
    expect(summaries.length).toBeGreaterThan(0);

    // The summary is a visible message of the conversation, and the model reads it in later steps.
    const transcript = (await call('GET', `/v1/conversations/${session.conversationId}/messages?limit=200`)).json().messages as Array<{
      role: string;
      content: string;
    }>;
    expect(transcript.filter((m) => m.role === 'summary').map((m) => m.content)).toContain(
      'The user asked for the logs of several services; each showed upstream timeouts.',
    );
    expect(transcript.filter((m) => m.role === 'user')).toHaveLength(40);
    const lastSystem = String(fake.requests.at(-1)!.body.messages[0]!.content);
    expect(lastSystem).toContain('<value name="summary">The user asked for the logs');
    // What the summary cost is counted with the session's model calls.
    const calls = await t.runtime.database.db.selectFrom('model_calls').select('seq').where('session_id', '=', session.id).execute();
    expect(calls).toHaveLength(80 + summaries.length);
  }, 120_000);

  it('ends a turn that cannot fit even alone with CONTEXT_TOO_LARGE, without asking the model', async () => {
    const session = await startSession();
    const before = fake.requests.length;
    const content = 'Look at svc-1 and this paste: '.concat('timeout error retry '.repeat(3500));
    const { turn } = (await call('POST', `/v1/conversations/${session.conversationId}/messages?wait=true`, { content })).json();
    expect(turn).toMatchObject({ status: 'failed', error: { code: 'CONTEXT_TOO_LARGE' } });
    expect(fake.requests.length).toBe(before);
  });
});
