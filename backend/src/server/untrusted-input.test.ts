import { describe, expect, it } from 'vitest';
import { checkKey, jsonNestsDeeperThan, maxJsonDepth, parseUntrustedJson } from './untrusted-input.ts';

const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
};

describe('the rules for what a request may carry', () => {
  it('measures nesting on the text, counting brackets in strings as text', () => {
    expect(jsonNestsDeeperThan(nested(3), 3)).toBe(false);
    expect(jsonNestsDeeperThan(nested(4), 3)).toBe(true);
    expect(jsonNestsDeeperThan(`{"a":[{"b":"${'['.repeat(100)}"}]}`, 3)).toBe(false);
    expect(jsonNestsDeeperThan(`["\\"[[[[", ["x"]]`, 2)).toBe(false); // an escaped quote does not end the string
    expect(jsonNestsDeeperThan(`["\\\\", [[["x"]]]]`, 3)).toBe(true); // an escaped backslash does
  });

  it('walks a half-million-element array without overflowing anything', () => {
    expect(parseUntrustedJson(`[${Array(500_000).fill('"x"').join(',')}]`)).toHaveLength(500_000);
  });

  it('measures a megabyte of brackets in a few milliseconds, without recursion', () => {
    const started = performance.now();
    expect(jsonNestsDeeperThan(nested(500_000), maxJsonDepth)).toBe(true);
    expect(jsonNestsDeeperThan(`["${'['.repeat(1_000_000)}"]`, maxJsonDepth)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('parses ordinary JSON, and refuses deep nesting, forbidden keys and unstorable text with their codes', () => {
    expect(parseUntrustedJson(`{"a":[1,{"b":"c"}],"d":null}`)).toEqual({ a: [1, { b: 'c' }], d: null });
    expect(parseUntrustedJson(`{"a":${nested(maxJsonDepth - 1)}}`)).toBeDefined();
    expect(codeOf(() => parseUntrustedJson(`{"a":${nested(maxJsonDepth)}}`))).toBe('VALIDATION_FAILED');
    expect(codeOf(() => parseUntrustedJson(`{"a":${nested(30_000)}}`))).toBe('VALIDATION_FAILED');
    for (const key of ['__proto__', 'constructor', 'prototype', '\\u005f_proto__', 'constructo\\u0072']) {
      expect(
        codeOf(() => parseUntrustedJson(`{"x":[{"${key}":1}]}`)),
        key,
      ).toBe('FORBIDDEN_KEY');
    }
    expect(codeOf(() => parseUntrustedJson('{"a":"x\\u0000y"}'))).toBe('INVALID_TEXT');
    expect(codeOf(() => parseUntrustedJson('{"a\\u0000":1}'))).toBe('INVALID_TEXT');
    expect(codeOf(() => parseUntrustedJson('{"a":"\\ud800"}'))).toBe('INVALID_TEXT');
    expect(codeOf(() => parseUntrustedJson('{"a":'))).toBe('INVALID_JSON');
  });

  it('applies the key rules to names that are not JSON (form fields)', () => {
    expect(codeOf(() => checkKey('prototype'))).toBe('FORBIDDEN_KEY');
    expect(codeOf(() => checkKey('ti\0tle'))).toBe('INVALID_TEXT');
    expect(codeOf(() => checkKey('title'))).toBeUndefined();
  });
});
