import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatCompletions, type FakeChatCompletions } from '../../test/fake-chat-completions.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

type AttributeValue = { stringValue?: string; intValue?: number | string; boolValue?: boolean; arrayValue?: { values: AttributeValue[] } };
interface ReceivedSpan {
  name: string;
  spanId: string;
  parentSpanId?: string;
  traceId: string;
  attributes: Array<{ key: string; value: AttributeValue }>;
  status?: { code?: number };
}

/** An OTLP/HTTP receiver on 127.0.0.1: records every JSON body POSTed to /v1/traces. */
async function startOtlpReceiver() {
  const bodies: string[] = [];
  const contentTypes: Array<string | undefined> = [];
  const server = http.createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v1/traces') return void response.writeHead(404).end();
      bodies.push(raw);
      contentTypes.push(request.headers['content-type']);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    contentTypes,
    spans(): ReceivedSpan[] {
      return bodies.flatMap((body) =>
        (JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: ReceivedSpan[] }> }> }).resourceSpans.flatMap((r) =>
          r.scopeSpans.flatMap((s) => s.spans),
        ),
      );
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function attribute(span: ReceivedSpan, key: string): unknown {
  const value = span.attributes.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  if (value.arrayValue) return value.arrayValue.values.map((v) => v.stringValue);
  return value.stringValue ?? (value.intValue === undefined ? value.boolValue : Number(value.intValue));
}

const secretQuestion = 'What did the quarterly board memo say about Project Heron?';
const secretQuery = 'heron board memo';

describe.each([{ capture: false }, { capture: true }])('traces of a turn (OTEL_CAPTURE_CONTENT=$capture)', ({ capture }) => {
  let t: TestApp;
  let fake: FakeChatCompletions;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let turnId: string;

  beforeAll(async () => {
    fake = await startFakeChatCompletions();
    receiver = await startOtlpReceiver();
    t = await createTestApp('pglite', {
      MODEL_ENDPOINTS: `fake=${fake.url}`,
      MODEL_MAX_RETRIES: '0',
      MODEL_HEALTH_INTERVAL_MS: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_CAPTURE_CONTENT: String(capture),
      OTEL_SERVICE_NAME: 'agentry-under-test',
    });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
    await receiver?.close();
  });

  const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: bearer(t.userToken), ...(payload ? { payload } : {}) });

  it('exports the turn, its steps, the model calls and the tool call as nested spans with the GenAI attributes', async () => {
    const agent = (await call('POST', '/v1/agents', { name: 'Traced', model: 'fake:scripted', tools: ['knowledge_search'] })).json().agent;
    const session = (await call('POST', '/v1/sessions', { agentId: agent.id })).json().session;
    fake.replies.push(
      { kind: 'tool-call', name: 'knowledge_search', arguments: { query: secretQuery } },
      { kind: 'text', text: 'Nothing.' },
    );
    const sent = await call('POST', `/v1/conversations/${session.conversationId}/messages?wait=true`, { content: secretQuestion });
    expect(sent.json().turn.status).toBe('completed');
    turnId = sent.json().turn.id;
    await t.runtime.tracing.flush();

    expect(receiver.contentTypes.every((type) => type?.startsWith('application/json'))).toBe(true);
    const spans = receiver.spans();
    const turn = spans.find((s) => s.name === 'invoke_agent agentry')!;
    expect(turn).toBeDefined();
    expect(turn.parentSpanId || undefined).toBeUndefined();
    expect(attribute(turn, 'gen_ai.operation.name')).toBe('invoke_agent');
    expect(attribute(turn, 'gen_ai.conversation.id')).toBe(session.conversationId);
    expect(attribute(turn, 'agentry.session.id')).toBe(session.id);
    expect(attribute(turn, 'agentry.turn.status')).toBe('completed');

    const steps = spans.filter((s) => s.parentSpanId === turn.spanId);
    expect(steps.map((s) => s.name)).toEqual(['step 1', 'step 2']);
    const under = (parent: ReceivedSpan) => spans.filter((s) => s.parentSpanId === parent.spanId).map((s) => s.name);
    expect(under(steps[0]!)).toEqual(expect.arrayContaining(['chat scripted', 'execute_tool knowledge_search']));
    expect(under(steps[1]!)).toEqual(['chat scripted']);
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([turn.traceId]));

    const [firstCall, secondCall] = spans.filter((s) => s.name === 'chat scripted');
    expect(attribute(firstCall!, 'gen_ai.operation.name')).toBe('chat');
    expect(attribute(firstCall!, 'gen_ai.provider.name')).toBe('fake');
    expect(attribute(firstCall!, 'gen_ai.system')).toBe('fake');
    expect(attribute(firstCall!, 'gen_ai.request.model')).toBe('scripted');
    expect(attribute(firstCall!, 'gen_ai.usage.input_tokens')).toBeGreaterThan(0);
    expect(attribute(firstCall!, 'gen_ai.usage.output_tokens')).toBeGreaterThan(0);
    expect(attribute(firstCall!, 'gen_ai.response.finish_reasons')).toEqual(['tool-calls']);
    expect(attribute(secondCall!, 'gen_ai.response.finish_reasons')).toEqual(['stop']);

    const tool = spans.find((s) => s.name === 'execute_tool knowledge_search')!;
    expect(attribute(tool, 'gen_ai.operation.name')).toBe('execute_tool');
    expect(attribute(tool, 'gen_ai.tool.name')).toBe('knowledge_search');
    expect(attribute(tool, 'agentry.tool.outcome')).toBe('ok');
    expect(attribute(tool, 'agentry.tool.duration_ms')).toEqual(expect.any(Number));

    const everything = receiver.bodies.join('\n');
    if (capture) {
      expect(attribute(firstCall!, 'gen_ai.input.messages')).toContain(secretQuestion);
      expect(attribute(tool, 'gen_ai.tool.call.arguments')).toContain(secretQuery);
    } else {
      expect(everything).not.toContain(secretQuestion);
      expect(everything).not.toContain(secretQuery);
      expect(everything).not.toContain('gen_ai.input.messages');
    }
  });

  it("gives the turn's timeline: model calls and tool calls in order, with starts, durations, tokens and cost, to its user only", async () => {
    const response = await call('GET', `/v1/turns/${turnId}/timeline`);
    expect(response.statusCode).toBe(200);
    const timeline = response.json();
    expect(timeline).toMatchObject({ turnId, status: 'completed', finishedAt: expect.any(String) });
    expect(timeline.calls.map((c: { kind: string; step: number }) => `${c.kind} ${c.step}`)).toEqual(['model 1', 'tool 1', 'model 2']);
    const [first, tool, second] = timeline.calls;
    expect(first).toMatchObject({ model: 'fake:scripted', inputTokens: expect.any(Number), outputTokens: expect.any(Number), error: null });
    expect(first.inputTokens).toBeGreaterThan(0);
    expect(tool).toMatchObject({ tool: 'knowledge_search', status: 'completed', isError: false, durationMs: expect.any(Number) });
    const start = (c: { startedAt: string }) => Date.parse(c.startedAt);
    expect(start(first)).toBeGreaterThanOrEqual(Date.parse(timeline.startedAt) - 5);
    expect(start(tool)).toBeGreaterThanOrEqual(start(first) + first.durationMs - 5);
    expect(start(second)).toBeGreaterThanOrEqual(start(tool) + tool.durationMs - 5);

    const other = await t.app.inject({ method: 'GET', url: `/v1/turns/${turnId}/timeline`, headers: bearer(t.adminToken) });
    expect(other.statusCode).toBe(404);
    expect(other.json().error.code).toBe('TURN_NOT_FOUND');
  });
});
