import { describe, expect, it } from 'vitest';
import { contextLimits, sanitizeContext } from './context-sanitizer.ts';

describe('session context sanitising', () => {
  it('drops keys that name credentials, and only those', () => {
    const { context, dropped } = sanitizeContext({
      apiKey: 'a',
      api_key: 'b',
      'X-Auth-Token': 'c',
      userPassword: 'd',
      privateKey: 'e',
      author: 'Ada',
      maxTokens: 100,
      passenger: 'Bob',
      tokenizer: 'cl100k',
    });
    expect(context).toEqual({ author: 'Ada', maxTokens: 100, passenger: 'Bob', tokenizer: 'cl100k' });
    expect(dropped.map((d) => d.path).sort()).toEqual(['X-Auth-Token', 'apiKey', 'api_key', 'privateKey', 'userPassword']);
  });

  it('drops values that look like credentials wherever they are', () => {
    const { context, dropped } = sanitizeContext({ notes: ['fine', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'] });
    expect(context).toEqual({ notes: ['fine'] });
    expect(dropped).toEqual([{ path: 'notes[1]', reason: 'secret-value' }]);
  });

  it('refuses a long string before any pattern reads it', () => {
    // 160 KB that backtracking patterns took seconds over, holding every other request.
    const started = performance.now();
    expect(sanitizeContext({ notes: 'a.'.repeat(80_000) }).dropped).toEqual([{ path: 'notes', reason: 'too-long' }]);
    expect(performance.now() - started).toBeLessThan(500);
    // A credential in a string that is too long anyway is not looked for.
    expect(
      sanitizeContext({ notes: `ghp_abcdefghijklmnopqrstuvwxyz0123456789 ${'x'.repeat(contextLimits.maxStringLength)}` }).dropped,
    ).toEqual([{ path: 'notes', reason: 'too-long' }]);
  });

  it('caps depth, breadth, string length and total size', () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < contextLimits.maxDepth + 2; i++) deep = { next: deep };
    expect(sanitizeContext({ deep }).dropped).toEqual([expect.objectContaining({ reason: 'too-deep' })]);
    const wide = Object.fromEntries(Array.from({ length: contextLimits.maxKeys + 5 }, (_, i) => [`k${i}`, i]));
    const capped = sanitizeContext(wide);
    expect(Object.keys(capped.context)).toHaveLength(contextLimits.maxKeys);
    expect(capped.dropped.filter((d) => d.reason === 'too-many')).toHaveLength(5);
    expect(sanitizeContext({ text: 'x'.repeat(contextLimits.maxStringLength + 1) }).dropped).toEqual([
      { path: 'text', reason: 'too-long' },
    ]);
    const big = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'y'.repeat(contextLimits.maxStringLength)]));
    expect(sanitizeContext(big)).toEqual({ context: {}, dropped: [{ path: '', reason: 'too-large' }] });
  });
});
