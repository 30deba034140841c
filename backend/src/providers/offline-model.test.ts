import type {
  LanguageModelV3CallOptions,
  LanguageModelV3FunctionTool,
  LanguageModelV3Prompt,
  LanguageModelV3StreamPart,
} from '@ai-sdk/provider';
import { jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { describe, expect, it } from 'vitest';
import { OfflineLanguageModel, textDeltas } from './offline-model.ts';
import { promptText } from './token-count.ts';

const model = new OfflineLanguageModel();

const fn = (name: string, description: string, required: string[] = []): LanguageModelV3FunctionTool => ({
  type: 'function',
  name,
  description,
  inputSchema: { type: 'object', properties: Object.fromEntries(required.map((r) => [r, { type: 'string' }])), required },
});
const knowledgeSearch = fn('knowledge_search', 'Search the knowledge base for passages relevant to a query', ['query']);
const calendar = fn('list_calendar_events', 'List upcoming events in the user calendar');
const sendEmail = fn('send_email', 'Send an email message to a recipient', ['to', 'subject']);
const weather = fn('weather', 'Current weather in a city', ['city']);

const user = (text: string): LanguageModelV3Prompt => [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: [{ type: 'text', text }] },
];
const call = (
  prompt: LanguageModelV3Prompt,
  tools: LanguageModelV3FunctionTool[] = [],
  extra: Partial<LanguageModelV3CallOptions> = {},
): LanguageModelV3CallOptions => ({
  prompt,
  tools,
  ...extra,
});

async function streamed(options: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamPart[]> {
  const { stream } = await model.doStream(options);
  const parts: LanguageModelV3StreamPart[] = [];
  for await (const part of stream) parts.push(part);
  return parts;
}

async function reply(options: LanguageModelV3CallOptions) {
  const result = await model.doGenerate(options);
  const [content] = result.content;
  return {
    text: content?.type === 'text' ? content.text : undefined,
    toolCall: content?.type === 'tool-call' ? { toolName: content.toolName, input: JSON.parse(content.input) as unknown } : undefined,
    finishReason: result.finishReason.unified,
    usage: result.usage,
  };
}

const notALanguageModel = /offline responder, not a language model/;

describe('local:offline', () => {
  it('calls the tool named by /tool with its JSON arguments', async () => {
    const result = await reply(call(user('please /tool weather {"city": "Oslo"}'), [weather, calendar]));
    expect(result.toolCall).toEqual({ toolName: 'weather', input: { city: 'Oslo' } });
    expect(result.finishReason).toBe('tool-calls');
  });

  it('explains the /tool syntax when the JSON is not valid, and names the tools when the tool is not offered', async () => {
    const invalid = await reply(call(user('/tool weather {city: Oslo}'), [weather]));
    expect(invalid.toolCall).toBeUndefined();
    expect(invalid.text).toMatch(notALanguageModel);
    expect(invalid.text).toContain('/tool weather {"city":"…"}');
    const missing = await reply(call(user('/tool forecast {}'), [weather, calendar]));
    expect(missing.text).toContain(
      'There is no tool "forecast" in this conversation; the tools offered are weather, list_calendar_events.',
    );
  });

  it('searches the knowledge base for a question', async () => {
    for (const question of ['What is our vacation policy?', 'how do I reset my password']) {
      const result = await reply(call(user(question), [calendar, knowledgeSearch]));
      expect(result.toolCall).toEqual({ toolName: 'knowledge_search', input: { query: question } });
    }
  });

  it('answers a knowledge search with up to three quoted passages, each cited by title', async () => {
    const results = [
      'Vacation is 25 days a year.',
      'Unused days carry over until March.',
      'Ask your manager first.',
      'A fourth passage.',
    ].map((content, i) => ({ documentId: `d${i}`, title: `Handbook ${i + 1}`, content, similarity: 0.9 - i / 10 }));
    const prompt: LanguageModelV3Prompt = [
      ...user('What is our vacation policy?'),
      { role: 'assistant', content: [{ type: 'tool-call', toolCallId: 'c1', toolName: 'knowledge_search', input: { query: 'vacation' } }] },
      {
        role: 'tool',
        content: [{ type: 'tool-result', toolCallId: 'c1', toolName: 'knowledge_search', output: { type: 'json', value: { results } } }],
      },
    ];
    const { text, finishReason } = await reply(call(prompt, [knowledgeSearch]));
    expect(finishReason).toBe('stop');
    expect(text).toMatch(notALanguageModel);
    expect(text).toContain('> Vacation is 25 days a year.\n— Handbook 1');
    expect(text).toContain('> Ask your manager first.\n— Handbook 3');
    expect(text).not.toContain('fourth');

    const empty: LanguageModelV3Prompt = [
      ...prompt.slice(0, -1),
      {
        role: 'tool',
        content: [
          { type: 'tool-result', toolCallId: 'c1', toolName: 'knowledge_search', output: { type: 'json', value: { results: [] } } },
        ],
      },
    ];
    expect((await reply(call(empty, [knowledgeSearch]))).text).toContain('nothing that matches');
  });

  it('summarises another tool’s result as compact, truncated JSON, and does not call the tool again', async () => {
    const prompt: LanguageModelV3Prompt = [
      ...user('/tool weather {"city": "Oslo"}'),
      { role: 'assistant', content: [{ type: 'tool-call', toolCallId: 'c1', toolName: 'weather', input: { city: 'Oslo' } }] },
      {
        role: 'tool',
        content: [
          {
            type: 'tool-result',
            toolCallId: 'c1',
            toolName: 'weather',
            output: { type: 'json', value: { temperature: 12, sky: 'x'.repeat(1000) } },
          },
        ],
      },
    ];
    const { text, toolCall } = await reply(call(prompt, [weather]));
    expect(toolCall).toBeUndefined();
    expect(text).toContain('The tool weather returned: {"temperature":12,"sky":"xxx');
    expect(text!.length).toBeLessThan(520);
    expect(text).toMatch(/…$/);
  });

  it('calls the one tool that clearly matches the message, or says how to call it when it needs input', async () => {
    const tools = [calendar, sendEmail, knowledgeSearch];
    expect((await reply(call(user('show my calendar events'), tools))).toolCall).toEqual({ toolName: 'list_calendar_events', input: {} });
    const needsInput = await reply(call(user('send an email to Bob'), tools));
    expect(needsInput.toolCall).toBeUndefined();
    expect(needsInput.text).toContain('/tool send_email {"to":"…","subject":"…"}');
  });

  it('calls no tool when none matches clearly, and says it is offline and how to configure a model', async () => {
    const twins = [fn('list_open_tickets', 'List open support tickets'), fn('list_closed_tickets', 'List closed support tickets')];
    for (const [message, tools] of [
      ['tell me a joke', [calendar, sendEmail]],
      ['tell me a joke', [calendar]],
      ['list support tickets', twins],
      ['hello', []],
    ] as const) {
      const result = await reply(call(user(message), [...tools]));
      expect(result.toolCall).toBeUndefined();
      expect(result.text).toMatch(notALanguageModel);
      expect(result.text).toMatch(/DEFAULT_MODEL.*OPENAI_API_KEY.*MODEL_ENDPOINTS/);
    }
  });

  it('offers no tools under toolChoice none', async () => {
    const result = await reply(call(user('/tool weather {"city": "Oslo"}'), [weather], { toolChoice: { type: 'none' } }));
    expect(result.toolCall).toBeUndefined();
    expect(result.text).toContain('no tools are offered');
  });

  it('is deterministic: the same prompt gives the same parts, ids and usage; another prompt another call id', async () => {
    const first = await streamed(call(user('What is our vacation policy?'), [knowledgeSearch]));
    const again = await streamed(call(user('What is our vacation policy?'), [knowledgeSearch]));
    expect(again).toEqual(first);
    const other = await streamed(call(user('What is our travel policy?'), [knowledgeSearch]));
    const id = (parts: LanguageModelV3StreamPart[]) => parts.find((p) => p.type === 'tool-call')?.toolCallId;
    expect(id(first)).toMatch(/^call_[0-9a-f]{24}$/);
    expect(id(other)).not.toBe(id(first));
    expect(await streamed(call(user('tell me a joke')))).toEqual(await streamed(call(user('tell me a joke'))));
  });

  it('streams text as several deltas between text-start and text-end, then finish with usage', async () => {
    const parts = await streamed(call(user('tell me a joke')));
    const types = parts.map((p) => p.type);
    expect(types[0]).toBe('stream-start');
    expect(types.filter((t) => t === 'text-delta').length).toBeGreaterThan(5);
    expect(types.indexOf('text-start')).toBeLessThan(types.indexOf('text-delta'));
    expect(types.slice(-2)).toEqual(['text-end', 'finish']);
    const text = parts.flatMap((p) => (p.type === 'text-delta' ? [p.delta] : [])).join('');
    expect(text).toBe((await reply(call(user('tell me a joke')))).text);
    expect(textDeltas('one two three four five six seven eight nine ten').every((d) => d.length <= 21)).toBe(true);
  });

  it('counts usage with cl100k_base: the prompt in, the reply out', async () => {
    const prompt = user('tell me a joke');
    const { text, usage } = await reply(call(prompt));
    expect(usage.inputTokens.total).toBe(countTokens(promptText(prompt)));
    expect(usage.inputTokens.total).toBeGreaterThan(5);
    expect(usage.outputTokens.total).toBe(countTokens(text!));
    const longer = await reply(call(user(`tell me a joke ${'about databases '.repeat(20)}`)));
    expect(longer.usage.inputTokens.total).toBeGreaterThan(usage.inputTokens.total! + 40);
  });

  it('stops when the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(model.doStream(call(user('hi'), [], { abortSignal: controller.signal }))).rejects.toThrow('stop');

    const midway = new AbortController();
    const { stream } = await model.doStream(call(user('tell me a joke'), [], { abortSignal: midway.signal }));
    const reader = stream.getReader();
    await reader.read();
    midway.abort(new Error('stopped midway'));
    await expect(reader.read()).rejects.toThrow('stopped midway');
  });

  it('drives a two-step streamText run: search, then an answer citing the passages', async () => {
    const searches: string[] = [];
    const result = streamText({
      model,
      prompt: 'Where are the backups stored?',
      stopWhen: stepCountIs(3),
      tools: {
        knowledge_search: tool({
          description: 'Search the knowledge base',
          inputSchema: jsonSchema<{ query: string }>({ type: 'object', properties: { query: { type: 'string' } }, required: ['query'] }),
          execute: async ({ query }) => {
            searches.push(query);
            return {
              results: [
                {
                  documentId: 'd1',
                  title: 'Operations guide',
                  content: 'Backups are stored in the eu-west bucket for 30 days.',
                  similarity: 0.8,
                },
              ],
            };
          },
        }),
      },
    });
    const text = await result.text;
    expect(searches).toEqual(['Where are the backups stored?']);
    expect(text).toContain('> Backups are stored in the eu-west bucket for 30 days.\n— Operations guide');
    expect((await result.steps).map((s) => s.finishReason)).toEqual(['tool-calls', 'stop']);
  });
});
