import { Ajv, type ValidateFunction } from 'ajv';
import { schemaType, sampleValue, type JsonSchema } from './sample-value.ts';

/** JSON text put into a body as it is (what JSON.stringify cannot write: deep nesting, `__proto__`). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** A hostile value for one place of a request, and whether the API must refuse it. */
export interface HostileValue {
  label: string;
  value: unknown;
  /** Refused: 4xx with a known code. Any: also 2xx/3xx (the API documents the value as valid). */
  expect: 'refused' | 'any';
  /** Megabytes or deep nesting: sent last, one at a time. */
  heavy?: boolean;
}

const depth = 30_000;
/** 30,000 nested objects, and lists: deep enough to overflow any recursive walk. */
export const deepObject = new RawJson(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
export const deepList = new RawJson(`${'['.repeat(depth)}${']'.repeat(depth)}`);
/** An object holding 30,000 nested lists: what an object-typed field takes, in 60 KB (under a multipart field's 64 KB). */
export const deepInObject = new RawJson(`{"a":${deepList.text}}`);
export const protoKey = new RawJson('{"__proto__":{"polluted":true}}');
export const constructorKey = { constructor: { prototype: { polluted: true } } };

const texts = new Map<number, string>();
/**
 * Text that makes backtracking patterns slow: a quarter each of `a.`, `a-`, `eyJa-` (a JWT's start)
 * and `a@a.` (mail addresses). A quadratic pattern takes minutes on a megabyte of it.
 */
function adversarialText(length: number): string {
  const cached = texts.get(length);
  if (cached) return cached;
  const units = ['a.', 'a-', 'eyJa-', 'a@a.'];
  const quarter = Math.floor(length / units.length);
  const text = units
    .map((unit) => unit.repeat(Math.ceil(quarter / unit.length)).slice(0, quarter))
    .join('')
    .padEnd(length, 'a');
  texts.set(length, text);
  return text;
}
/** "Strings of 1 MB": under the default body limit with room for the rest of the body. */
export const megabyteText = adversarialText(1_000_000);
/** URLs and headers carry 8 KB (Node refuses headers past 16 KB before the app sees them). */
export const urlText = adversarialText(8000);

const dashes = '-'.repeat(36);
const idLike = /(^id|Ids?|cursor|after|before|topics?)$/i;

/** Candidate values for one body property, by the type its schema declares. */
export function bodyCandidates(schema: JsonSchema, name: string): HostileValue[] {
  const c = (label: string, value: unknown, heavy = false) => ({ label, value, heavy, expect: expectFor(schema, value) });
  const text = [c('a NUL character', 'a\u0000b'), c('a lone surrogate', '\ud800')];
  const nested = [
    { label: '30,000 levels of nesting', value: deepInObject, expect: 'refused' as const, heavy: true },
    c('a "constructor" key', constructorKey),
    c('a NUL character in a key', { 'a\u0000': 1 }),
  ];
  switch (schemaType(schema)) {
    case 'string':
      return [
        c('a number', 1e308),
        c('null', null),
        c('an object', {}),
        ...text,
        c('1 MB of text', megabyteText, true),
        // Valid, and the worst a pattern can meet: accepted text goes on to whatever matches it.
        ...(schema.maxLength && schema.maxLength >= 1000 && schema.maxLength < megabyteText.length
          ? [c(`${schema.maxLength} characters of text`, adversarialText(schema.maxLength), true)]
          : []),
        ...(schema.enum ? [c('"__proto__"', '__proto__')] : []),
        ...(schema.format === 'uuid' ? [c('not a UUID', 'not-a-uuid'), c('the nil UUID', '00000000-0000-0000-0000-000000000000')] : []),
        ...(schema.format === 'uuid' || idLike.test(name) ? [c('36 dashes', dashes)] : []),
        ...(schema.format === 'date-time' ? [c('year 0000', '0000-01-01T00:00:00Z')] : []),
      ];
    case 'integer':
    case 'number':
      return [c('"NaN" (a string)', 'NaN'), c('1e308', 1e308), c('-1', -1), c('1.5', 1.5), c('null', null)];
    case 'boolean':
      return [c('"true" (a string)', 'true'), c('0', 0), c('null', null)];
    case 'array':
      return [
        c('an object', {}),
        c('a string', 'a\u0000b'),
        ...(schema.maxItems !== undefined && schema.maxItems <= 1000
          ? [c(`${schema.maxItems + 1} items`, Array(schema.maxItems + 1).fill(sampleValue(schema.items ?? {})))]
          : []),
      ];
    case 'object':
      return [c('a list', []), c('a string', 'x'), ...nested];
    default:
      return [...text, c('1 MB of text', megabyteText, true), ...nested];
  }
}

/** Candidate values for a path or query parameter or a header, as the text the URL carries. */
export function urlCandidates(schema: JsonSchema, name: string, where: 'path' | 'query' | 'header'): HostileValue[] {
  const type = schemaType(schema);
  const c = (label: string, text: string) => ({ label, value: text, expect: expectForText(schema, text) });
  const values = [c('8 KB of text', urlText), c('"constructor"', 'constructor'), c('"__proto__"', '__proto__')];
  if (where !== 'header') values.unshift(c('a NUL character', 'a\u0000b'));
  if (type === 'integer' || type === 'number') {
    values.push(
      c('NaN', 'NaN'),
      c('1e308', '1e308'),
      c('-1', '-1'),
      c('1.5', '1.5'),
      c('Infinity', 'Infinity'),
      c('20 digits', '99999999999999999999'),
    );
  }
  if (schema.format === 'uuid') values.push(c('not a UUID', 'not-a-uuid'), c('the nil UUID', '00000000-0000-0000-0000-000000000000'));
  if (schema.format === 'uuid' || idLike.test(name)) values.push(c('36 dashes', dashes));
  // Topics name an object as kind:id; the id part gets the same treatment as any id.
  if (/topic/i.test(name)) values.push(c('a topic of 36 dashes', `session:${dashes}`));
  if (schema.format === 'date-time') values.push(c('year 0000', '0000-01-01T00:00:00Z'), c('not a date', 'yesterday'));
  return values;
}

const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: false });
const compiled = new Map<string, ValidateFunction>();

/** Whether the OpenAPI document calls the value valid; a value it calls invalid must be refused. */
export function validFor(schema: JsonSchema, value: unknown): boolean {
  if (value instanceof RawJson) return false;
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(withoutRefs(schema) as object);
    compiled.set(key, validate);
  }
  return validate(value);
}

function expectFor(schema: JsonSchema, value: unknown): 'refused' | 'any' {
  // A NUL or a lone surrogate can be stored nowhere: refused wherever it sits.
  if (typeof value === 'string' && !(value as string & { isWellFormed(): boolean }).isWellFormed()) return 'refused';
  if (JSON.stringify(value)?.includes('\\u0000')) return 'refused';
  if (value !== null && typeof value === 'object' && Object.hasOwn(value, 'constructor')) return 'refused';
  return validFor(schema, value) ? 'any' : 'refused';
}

/** A URL value reaches the route as text, numbers coerced from it. */
function expectForText(schema: JsonSchema, text: string): 'refused' | 'any' {
  if (text.includes('\u0000')) return 'refused';
  const type = schemaType(schema);
  const value = type === 'integer' || type === 'number' ? (text.trim() === '' ? Number.NaN : Number(text)) : text;
  if (typeof value === 'number' && !Number.isFinite(value)) return 'refused';
  return validFor(schema, value) ? 'any' : 'refused';
}

/** The document refers to schemas it does not define (`schema0` for any JSON value): read them as "anything". */
function withoutRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutRefs);
  if (schema === null || typeof schema !== 'object') return schema;
  if ('$ref' in schema) return {};
  return Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, withoutRefs(value)]));
}
