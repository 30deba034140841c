import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

describe.each(drivers)('models without a price on %s', (driver) => {
  let t: TestApp;
  let fake: FakeChatCompletions;
  beforeAll(async () => {
    fake = await startFakeChatCompletions();
    const prices = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-prices-')), 'prices.yaml');
    fs.writeFileSync(prices, 'prices:\n  free:*: { input: 0, output: 0 }\n');
    t = await createTestApp(driver, {
      MODEL_ENDPOINTS: `free=${fake.url},gpu=${fake.url}`,
      MODEL_PRICES: prices,
      SPEND_LIMIT_MONTHLY_USD: '0.0000001',
      MODEL_MAX_RETRIES: '0',
    });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const call = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: bearer(t.userToken), ...(payload === undefined ? {} : { payload: payload as object }) });
  const session = async (model: string) => {
    const agent = (await call('POST', '/v1/agents', { name: model, model })).json().agent.id;
    return (await call('POST', '/v1/sessions', { agentId: agent })).json().session as { id: string; conversationId: string };
  };
  const ask = (conversationId: string, content: string) =>
    call('POST', `/v1/conversations/${conversationId}/messages?wait=true`, { content });

  it('count an endpoint priced at zero as free, and an unpriced one at DEFAULT_MODEL_PRICE, marked estimated, toward the limit', async () => {
    const free = await session('free:llama3.1:8b');
    const first = (await ask(free.conversationId, 'Hello?')).json();
    expect(first.message).toMatchObject({ costUsd: 0, costEstimated: false });
    expect((await ask(free.conversationId, 'Again?')).statusCode).toBe(200);

    const gpu = await session('gpu:qwen2.5');
    const priced = (await ask(gpu.conversationId, 'Hello?')).json();
    expect(priced.turn.status).toBe('completed');
    expect(priced.message.costEstimated).toBe(true);
    expect(priced.message.costUsd).toBeGreaterThan(0);
    expect((await call('GET', `/v1/sessions/${gpu.id}`)).json().session.counters).toMatchObject({
      costEstimated: true,
      costUsd: priced.message.costUsd,
    });
    expect((await call('GET', `/v1/sessions/${free.id}`)).json().session.counters).toMatchObject({ costEstimated: false, costUsd: 0 });
    const refused = await ask(gpu.conversationId, 'And again?');
    expect(refused.json().error).toMatchObject({ code: 'QUOTA_EXCEEDED' });
  });
});
