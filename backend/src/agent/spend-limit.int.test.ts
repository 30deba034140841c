import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatCompletions, type FakeChatCompletions } from '../../test/fake-chat-completions.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';

describe.each(drivers)('the monthly spend limit on %s', (driver) => {
  let t: TestApp;
  let fake: FakeChatCompletions;
  beforeAll(async () => {
    fake = await startFakeChatCompletions();
    t = await createTestApp(driver, {
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'sk-test',
      SPEND_LIMIT_MONTHLY_USD: '0.0000001',
      MODEL_MAX_RETRIES: '0',
    });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, token = t.userToken) =>
    t.app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as object }) });

  it('prices each message by its model, and refuses new messages once the month is spent, deleted sessions included, per user', async () => {
    const agent = (await call('POST', '/v1/agents', { name: 'Priced', model: 'openai:gpt-4o-mini' })).json().agent.id;
    const { session } = (await call('POST', '/v1/sessions', { agentId: agent })).json();
    fake.replies.push({ kind: 'text', text: 'A priced answer.' });
    const first = (await call('POST', `/v1/conversations/${session.conversationId}/messages?wait=true`, { content: 'Hello?' })).json();
    expect(first.turn.status).toBe('completed');
    expect(first.message.costUsd).toBeGreaterThan(0);
    expect((await call('GET', `/v1/sessions/${session.id}`)).json().session.counters.costUsd).toBe(first.message.costUsd);

    const refused = await call('POST', `/v1/conversations/${session.conversationId}/messages`, { content: 'And again?' });
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { limitUsd: 0.0000001 } });
    const transcript = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json().messages;
    expect(transcript).toHaveLength(2);

    // Deleting what was spent does not give the money back.
    expect((await call('DELETE', `/v1/sessions/${session.id}`)).statusCode).toBe(204);
    const next = (await call('POST', '/v1/sessions', { agentId: agent })).json().session;
    expect((await call('POST', `/v1/conversations/${next.conversationId}/messages`, { content: 'Now?' })).statusCode).toBe(429);

    // Another user's spend is their own.
    const other = await call('POST', '/v1/sessions', {}, t.adminToken);
    const answered = await call(
      'POST',
      `/v1/conversations/${other.json().session.conversationId}/messages?wait=true`,
      { content: 'hi' },
      t.adminToken,
    );
    expect(answered.json().turn.status).toBe('completed');
  });
});
