import { generateText, jsonSchema, streamText, tool, type LanguageModel, type ToolSet } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeChatCompletions, type FakeChatCompletions } from '../../test/fake-chat-completions.ts';
import { AppError } from '../errors.ts';
import { createLanguageModels, type LanguageModelSettings } from './language-models.ts';

const weather = tool({
  description: 'Current weather in a city',
  inputSchema: jsonSchema<{ city: string; unit?: string }>({
    type: 'object',
    properties: { city: { type: 'string' }, unit: { type: 'string' } },
    required: ['city'],
  }),
});

/** What a caller of streamText sees: the text deltas, tool calls, the error if any, and usage. */
async function consume(model: LanguageModel, options: { tools?: ToolSet; abortSignal?: AbortSignal } = {}) {
  const result = streamText({ model, prompt: 'What is the weather in Oslo?', onError: () => undefined, ...options });
  const deltas: string[] = [];
  const toolCalls: Array<{ toolName: string; input: unknown }> = [];
  let error: unknown;
  let aborted = false;
  try {
    for await (const part of result.fullStream) {
      if (part.type === 'text-delta') deltas.push(part.text);
      if (part.type === 'tool-call') toolCalls.push({ toolName: part.toolName, input: part.input });
      if (part.type === 'error') error ??= part.error;
      if (part.type === 'abort') aborted = true;
    }
  } catch (thrown) {
    error ??= thrown;
  }
  const usage = error || aborted ? undefined : await result.totalUsage;
  return { deltas, text: deltas.join(''), toolCalls, error, aborted, usage };
}

describe('language models against a local server that speaks Chat Completions', () => {
  let fake: FakeChatCompletions;
  const settings = (overrides: Partial<LanguageModelSettings> = {}): LanguageModelSettings => ({
    defaultModel: 'openai:gpt-4o-mini',
    openai: { apiKey: 'test-key', baseUrl: fake.url },
    endpoints: [{ name: 'ollama', baseUrl: fake.url }],
    timeoutMs: 300,
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 2000 },
    ...overrides,
  });
  beforeAll(async () => {
    fake = await startFakeChatCompletions({ apiKey: 'test-key' });
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
    fake.replies.length = 0;
    fake.apiKey = 'test-key';
  });

  it('streams text in several deltas, with the usage the server reports', async () => {
    fake.replies.push({ kind: 'text', text: 'It is sunny and mild in Oslo today.', pieceLength: 5 });
    const { deltas, text, error, usage } = await consume(createLanguageModels(settings()).resolve('openai:gpt-4o-mini'));
    expect(error).toBeUndefined();
    expect(text).toBe('It is sunny and mild in Oslo today.');
    expect(deltas.length).toBeGreaterThanOrEqual(5);
    expect(usage).toMatchObject({ inputTokens: 11, outputTokens: 9 });
    expect(fake.requests[0]!.body).toMatchObject({ model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true } });
    expect(fake.requests[0]!.authorization).toBe('Bearer test-key');
  });

  it('delivers a streamed tool call with its parsed arguments', async () => {
    fake.replies.push({ kind: 'tool-call', name: 'weather', arguments: { city: 'Oslo', unit: 'celsius' }, pieceLength: 4 });
    const { toolCalls, error } = await consume(createLanguageModels(settings()).resolve('openai:gpt-4o-mini'), { tools: { weather } });
    expect(error).toBeUndefined();
    expect(toolCalls).toEqual([{ toolName: 'weather', input: { city: 'Oslo', unit: 'celsius' } }]);
    expect(fake.requests[0]!.body.tools?.[0]).toMatchObject({
      type: 'function',
      function: { name: 'weather', description: 'Current weather in a city' },
    });
  });

  it('retries a 429 after the Retry-After the server asked for, then succeeds', async () => {
    fake.replies.push({ kind: 'fail', status: 429, headers: { 'retry-after': '1' } }, { kind: 'text', text: 'Finally.' });
    const { text, error } = await consume(createLanguageModels(settings()).resolve('openai:gpt-4o-mini'));
    expect(error).toBeUndefined();
    expect(text).toBe('Finally.');
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1]!.at - fake.requests[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('gives up on a 500 after the configured retries with MODEL_API_ERROR', async () => {
    fake.replies.push(...Array.from({ length: 5 }, () => ({ kind: 'fail' as const, status: 500 })));
    const { error, text } = await consume(
      createLanguageModels(settings({ retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 } })).resolve('openai:gpt-4o-mini'),
    );
    expect(text).toBe('');
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'MODEL_API_ERROR', status: 502, details: { model: 'openai:gpt-4o-mini', status: 500 } });
    expect((error as AppError).message).toMatch(/openai:gpt-4o-mini failed with HTTP 500/);
    expect(fake.requests).toHaveLength(2);
  });

  it('does not retry a refused request (401)', async () => {
    const { error } = await consume(
      createLanguageModels(settings({ openai: { apiKey: 'wrong', baseUrl: fake.url } })).resolve('openai:gpt-4o'),
    );
    expect(error).toMatchObject({ code: 'MODEL_API_ERROR', details: { status: 401 } });
    expect(fake.requests).toHaveLength(1);
  });

  it('surfaces a stream cut mid-answer as an error, not as a short answer', async () => {
    fake.replies.push({ kind: 'cut', text: 'This answer will never be finished, sadly.', afterChunks: 3 });
    const { error, text } = await consume(createLanguageModels(settings()).resolve('openai:gpt-4o-mini'));
    expect(text.length).toBeGreaterThan(0);
    expect(error).toMatchObject({ code: 'MODEL_API_ERROR' });
    expect((error as AppError).message).toMatch(/openai:gpt-4o-mini broke off mid-answer: .*terminated/);
    expect((error as AppError).message).not.toMatch(/HTTP 200/);
    expect(fake.requests).toHaveLength(1);
  });

  it('ends the stream with an error the server reports mid-answer', async () => {
    fake.replies.push({ kind: 'error-event', text: 'Half an answer and then', afterChunks: 3 });
    const { error } = await consume(createLanguageModels(settings()).resolve('openai:gpt-4o-mini'));
    expect(error).toMatchObject({ code: 'MODEL_API_ERROR' });
    expect((error as AppError).message).toMatch(/broke off mid-answer: The server is overloaded/);
  });

  it('stops a call whose server goes quiet for MODEL_TIMEOUT_MS with MODEL_TIMEOUT', async () => {
    fake.replies.push({ kind: 'stall' });
    const started = Date.now();
    const { error } = await consume(createLanguageModels(settings()).resolve('openai:gpt-4o-mini'));
    expect(error).toMatchObject({ code: 'MODEL_TIMEOUT', status: 504 });
    expect((error as AppError).message).toMatch(/sent nothing for 300 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('answers non-streaming calls too, under the same timeout', async () => {
    const model = createLanguageModels(settings()).resolve('openai:gpt-4o-mini');
    fake.replies.push({ kind: 'text', text: 'In one piece.' }, { kind: 'stall' });
    expect((await generateText({ model, prompt: 'Hi' })).text).toBe('In one piece.');
    expect(fake.requests[0]!.body.stream).toBeFalsy();
    await expect(generateText({ model, prompt: 'Hi' })).rejects.toMatchObject({ code: 'MODEL_TIMEOUT' });
  });

  it('stops at the caller’s abort without retrying', async () => {
    fake.replies.push({ kind: 'stall' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user cancelled')), 50);
    const started = Date.now();
    const { aborted, error } = await consume(createLanguageModels(settings({ timeoutMs: 5000 })).resolve('openai:gpt-4o-mini'), {
      abortSignal: controller.signal,
    });
    expect(aborted).toBe(true);
    expect(error).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(fake.requests).toHaveLength(1);
  });

  it('speaks to a named compatible endpoint, with no Authorization header when it has no key', async () => {
    fake.apiKey = undefined;
    fake.replies.push({ kind: 'tool-call', name: 'weather', arguments: { city: 'Bergen' } }, { kind: 'text', text: 'Rain, as always.' });
    const models = createLanguageModels(settings());
    const model = models.resolve('ollama:llama3.1:8b');
    expect(`${model.provider}:${model.modelId}`).toBe('ollama:llama3.1:8b');
    const call = await consume(model, { tools: { weather } });
    expect(call.toolCalls).toEqual([{ toolName: 'weather', input: { city: 'Bergen' } }]);
    const answer = await consume(model);
    expect(answer.text).toBe('Rain, as always.');
    expect(fake.requests.map((r) => r.body.model)).toEqual(['llama3.1:8b', 'llama3.1:8b']);
    expect(fake.requests[0]!.authorization).toBeUndefined();
  });

  it('sends a named endpoint its key', async () => {
    fake.replies.push({ kind: 'text', text: 'Keyed.' });
    const model = createLanguageModels(settings({ endpoints: [{ name: 'vllm', baseUrl: fake.url, apiKey: 'test-key' }] })).resolve(
      'vllm:qwen2.5',
    );
    expect((await consume(model)).text).toBe('Keyed.');
    expect(fake.requests[0]!.authorization).toBe('Bearer test-key');
  });
});
