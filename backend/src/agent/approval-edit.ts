import { isDeepStrictEqual } from 'node:util';
import { redactArguments } from '../redaction/index.ts';

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The arguments a call runs with after a person edited them. The person edits what they were shown
 * (the arguments redacted), so a field they sent back as they saw it keeps its original value (a
 * redacted secret is never written back as the redaction), a field they left out is kept, and only
 * a field they changed takes their value. `edited`: whether anything changed.
 */
export function applyEdit(original: unknown, submitted: unknown): { input: unknown; edited: boolean } {
  const input = merge(original, redactArguments(original), submitted);
  return { input, edited: !isDeepStrictEqual(input, original) };
}

function merge(original: unknown, shown: unknown, submitted: unknown): unknown {
  if (isDeepStrictEqual(submitted, shown)) return original;
  if (!isPlainObject(original) || !isPlainObject(submitted)) return submitted;
  const shownObject = isPlainObject(shown) ? shown : {};
  const merged: Record<string, unknown> = { ...original };
  for (const [key, value] of Object.entries(submitted)) {
    merged[key] = key in original ? merge(original[key], shownObject[key], value) : value;
  }
  return merged;
}
