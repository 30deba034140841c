import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../../test/fake-anthropic.ts';
import { startFakeGoogle, type FakeGoogle } from '../../test/fake-google.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';

/*
 * anthropic: and google: models through the real agent loop, against local servers that speak each
 * vendor's streaming API: a turn with a tool call and a final answer, its usage recorded, and an
 * overload or rate limit retried, then surfaced with the code the OpenAI path uses.
 */

interface Scripted {
  fake: FakeAnthropic | FakeGoogle;
  toolCall: (name: string, input: Record<string, unknown>) => void;
  answer: (text: string) => void;
  fail: (status: number, headers?: Record<string, string>) => void;
  /** The request that carried the tool's result back to the model, as the vendor's API shapes it. */
  toolResultSent: () => unknown;
  usage: { inputTokens: number; outputTokens: number };
}

const vendors = {
  anthropic: {
    model: 'anthropic:claude-sonnet-4-5',
    overload: 529,
    async start(): Promise<{ env: Record<string, string>; scripted: Scripted }> {
      const fake = await startFakeAnthropic();
      return {
        env: { ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: fake.url },
        scripted: {
          fake,
          toolCall: (name, input) => fake.replies.push({ kind: 'tool-call', name, input, text: 'Let me look.' }),
          answer: (text) => fake.replies.push({ kind: 'text', text }),
          fail: (status, headers) => fake.replies.push({ kind: 'fail', status, ...(headers ? { headers } : {}) }),
          toolResultSent: () =>
            fake.requests
              .at(-1)
              ?.body.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : []))
              .find((part: { type?: string }) => part.type === 'tool_result'),
          usage: { inputTokens: 120, outputTokens: 30 },
        },
      };
    },
  },
  google: {
    model: 'google:gemini-2.5-flash',
    overload: 503,
    async start(): Promise<{ env: Record<string, string>; scripted: Scripted }> {
      const fake = await startFakeGoogle();
      return {
        env: { GOOGLE_GENERATIVE_AI_API_KEY: 'test-key', GOOGLE_BASE_URL: fake.url },
        scripted: {
          fake,
          toolCall: (name, args) => fake.replies.push({ kind: 'tool-call', name, args }),
          answer: (text) => fake.replies.push({ kind: 'text', text }),
          fail: (status, headers) => fake.replies.push({ kind: 'fail', status, ...(headers ? { headers } : {}) }),
          toolResultSent: () =>
            fake.requests
              .at(-1)
              ?.body.contents.flatMap((c) => c.parts)
              .find((part) => 'functionResponse' in part),
          usage: { inputTokens: 140, outputTokens: 25 },
        },
      };
    },
  },
} as const;

describe.each(drivers)('native providers on %s', (driver) => {
  describe.each(Object.entries(vendors))('%s', (_name, vendor) => {
    let t: TestApp;
    let scripted: Scripted;
    beforeAll(async () => {
      const started = await vendor.start();
      scripted = started.scripted;
      t = await createTestApp(driver, { ...started.env, MODEL_MAX_RETRIES: '1', MODEL_TIMEOUT_MS: '10000' });
    });
    afterAll(async () => {
      await t?.close();
      await scripted?.fake.close();
    });

    const call = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
      t.app.inject({ method, url, headers: bearer(t.userToken), ...(payload === undefined ? {} : { payload: payload as object }) });
    const startSession = async () => {
      const agent = (await call('POST', '/v1/agents', { name: 'Native', model: vendor.model })).json().agent;
      expect(agent, JSON.stringify(agent)).toBeDefined();
      return (await call('POST', '/v1/sessions', { agentId: agent.id })).json().session as { id: string; conversationId: string };
    };
    const send = async (conversationId: string, content: string) =>
      (await call('POST', `/v1/conversations/${conversationId}/messages?wait=true`, { content })).json();

    it('runs a turn with a tool call and a final answer, recording what each call used', async () => {
      const session = await startSession();
      scripted.toolCall('knowledge_search', { query: 'refund policy' });
      scripted.answer('Refunds take 14 days.');
      const { turn, message } = await send(session.conversationId, 'How long do refunds take?');
      expect(turn, JSON.stringify(turn)).toMatchObject({ status: 'completed' });
      expect(message.content).toBe('Refunds take 14 days.');

      const transcript = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json().messages;
      expect(transcript.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
      expect(transcript[1].toolCalls).toEqual([expect.objectContaining({ tool: 'knowledge_search', input: { query: 'refund policy' } })]);
      expect(transcript[2]).toMatchObject({ toolName: 'knowledge_search', isError: false });
      expect(transcript[3]).toMatchObject({ model: vendor.model, usage: scripted.usage });
      // The tool's result went back to the model in the vendor's own shape.
      expect(scripted.toolResultSent()).toBeDefined();

      const counters = (await call('GET', `/v1/sessions/${session.id}`)).json().session.counters;
      expect(counters).toMatchObject({
        toolCalls: 1,
        inputTokens: 2 * scripted.usage.inputTokens,
        outputTokens: 2 * scripted.usage.outputTokens,
      });
      // Priced from the shipped table, not estimated.
      expect(counters).toMatchObject({ costEstimated: false });
      expect(counters.costUsd).toBeGreaterThan(0);
    });

    it('retries an overload, then surfaces a rate limit that outlasts the retries as MODEL_API_ERROR, as OpenAI models do', async () => {
      const session = await startSession();
      scripted.fail(vendor.overload, { 'retry-after': '0' });
      scripted.answer('Back again.');
      const recovered = await send(session.conversationId, 'Hello?');
      expect(recovered.turn.status).toBe('completed');
      expect(recovered.message.content).toBe('Back again.');

      const before = scripted.fake.requests.length;
      scripted.fail(429, { 'retry-after': '0' });
      scripted.fail(429, { 'retry-after': '0' });
      const { turn } = await send(session.conversationId, 'And now?');
      expect(scripted.fake.requests.length - before).toBe(2);
      expect(turn).toMatchObject({
        status: 'failed',
        error: { code: 'MODEL_API_ERROR', message: expect.stringContaining(`${vendor.model} failed with HTTP 429`) },
      });
    });
  });
});
