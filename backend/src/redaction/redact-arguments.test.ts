import { describe, expect, it } from 'vitest';
import { redactArguments } from './redact-arguments.ts';

describe('redactArguments', () => {
  it('hides values of credential-named fields and credential-looking text, at any depth', () => {
    const args = { to: 'bob@example.com', apiKey: 'abc', nested: [{ client_secret: 'x', note: 'token=abc123 ok' }], count: 3, flag: null };
    expect(redactArguments(args)).toEqual({
      to: 'bob@example.com',
      apiKey: '[REDACTED]',
      nested: [{ client_secret: '[REDACTED]', note: 'token=[REDACTED] ok' }],
      count: 3,
      flag: null,
    });
  });

  it('cuts long strings, long names, wide objects and deep nesting before reading them', () => {
    const deep = JSON.parse(`${'{"a":'.repeat(10)}1${'}'.repeat(10)}`) as unknown;
    const out = redactArguments({
      text: 'y'.repeat(5000),
      ['k'.repeat(300)]: 1,
      wide: Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`f${i}`, i])),
      deep,
    }) as Record<string, unknown>;
    expect(out['text']).toBe(`${'y'.repeat(2000)}…`);
    expect(out['k'.repeat(200)]).toBe(1);
    expect(Object.keys(out['wide'] as object)).toHaveLength(50);
    expect(JSON.stringify(out['deep'])).toBe('{"a":{"a":{"a":{"a":{"a":"[…]"}}}}}');
  });
});
