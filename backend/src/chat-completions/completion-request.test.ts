import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.ts';
import { checkSupported, completionRequestSchema } from './completion-request.ts';
import { turnContent } from './turn-content.ts';

const parse = (body: object) => completionRequestSchema.parse({ model: 'assistant', messages: [{ role: 'user', content: 'Hi' }], ...body });
const refusal = (body: object) => {
  try {
    checkSupported(parse(body));
  } catch (error) {
    if (isAppError(error)) return { code: error.code, param: (error.details as { param?: string } | undefined)?.param };
    throw error;
  }
  return undefined;
};

describe('what a chat completion request may ask for', () => {
  it("accepts sampling parameters (the agent's settings decide) and the empty defaults of what it refuses", () => {
    expect(refusal({ temperature: 0.2, max_tokens: 100, top_p: 1, tools: [], logprobs: false, response_format: { type: 'text' } })).toBe(
      undefined,
    );
  });

  it('refuses client tools, more than one choice, non-text content, tool messages and unknown parameters, by name', () => {
    expect(refusal({ tools: [{ type: 'function', function: { name: 'f' } }] })).toEqual({ code: 'UNSUPPORTED_PARAMETER', param: 'tools' });
    expect(refusal({ functions: [{ name: 'f' }] })).toEqual({ code: 'UNSUPPORTED_PARAMETER', param: 'functions' });
    expect(refusal({ n: 3 })).toEqual({ code: 'UNSUPPORTED_PARAMETER', param: 'n' });
    expect(refusal({ brand_new_option: true })).toEqual({ code: 'UNSUPPORTED_PARAMETER', param: 'brand_new_option' });
    expect(refusal({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] })).toEqual({
      code: 'UNSUPPORTED_PARAMETER',
      param: 'messages[0].content[0]',
    });
    expect(refusal({ messages: [{ role: 'tool', content: 'x', tool_call_id: 'a' }] })).toEqual({
      code: 'UNSUPPORTED_PARAMETER',
      param: 'messages[0].role',
    });
  });
});

describe('the message a turn runs', () => {
  const history = parse({
    messages: [
      { role: 'system', content: 'Answer in French.' },
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: null },
      { role: 'assistant', content: 'Bonjour' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'How are ' },
          { type: 'text', text: 'you?' },
        ],
      },
      { role: 'user', content: 'And today?' },
    ],
  }).messages;

  it('continuing a session: only the trailing user messages, joined', () => {
    expect(turnContent(history, { continuing: true })).toBe('How are you?\n\nAnd today?');
  });

  it('starting one: the earlier messages as a delimited transcript before them', () => {
    expect(turnContent(history, { continuing: false })).toBe(
      [
        'The conversation so far, as the client sent it (context for the last message):',
        '<client_history>',
        '[system] Answer in French.',
        '[user] Hello',
        '[assistant] Bonjour',
        '</client_history>',
        '',
        'How are you?\n\nAnd today?',
      ].join('\n'),
    );
    expect(turnContent(parse({ messages: [{ role: 'user', content: 'Just this' }] }).messages, { continuing: false })).toBe('Just this');
  });

  it('needs a last user message with text', () => {
    expect(() =>
      turnContent(
        [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Yes?' },
        ],
        { continuing: true },
      ),
    ).toThrow(/last message must be a user message/);
    expect(() => turnContent(parse({ messages: [{ role: 'user', content: '   ' }] }).messages, { continuing: true })).toThrow(/no text/);
  });
});
