import { z } from 'zod';

/** One step of a payload path: a property name or an array index. */
type Segment = string | number;

const maxPathLength = 200;
const maxSegments = 20;

/**
 * Reads a simple path (`$`, `$.pull_request.html_url`, `$.items[0].id`) into its segments, or
 * returns why it is not one. Written as a scanner rather than a pattern: each character is looked
 * at once, whatever the input.
 */
export function parsePayloadPath(path: string): Segment[] | { problem: string } {
  if (path.length > maxPathLength) return { problem: `must be at most ${maxPathLength} characters` };
  if (!path.startsWith('$')) return { problem: 'must start with $' };
  const segments: Segment[] = [];
  let i = 1;
  while (i < path.length) {
    if (segments.length >= maxSegments) return { problem: `must have at most ${maxSegments} steps` };
    const c = path[i];
    if (c === '.') {
      let j = i + 1;
      while (j < path.length && isNameChar(path.charCodeAt(j))) j++;
      if (j === i + 1) return { problem: `needs a property name after "." at ${i}` };
      segments.push(path.slice(i + 1, j));
      i = j;
    } else if (c === '[') {
      const close = path.indexOf(']', i);
      const digits = close < 0 ? '' : path.slice(i + 1, close);
      if (digits.length === 0 || digits.length > 6 || ![...digits].every((d) => d >= '0' && d <= '9'))
        return { problem: `needs an index like [0] at ${i}` };
      segments.push(Number(digits));
      i = close + 1;
    } else {
      return { problem: `has "${c}" where "." or "[" was expected at ${i}` };
    }
  }
  return segments;
}

function isNameChar(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code === 45;
}

/** A path as the API takes it: checked when the trigger is saved, so a bad one never reaches a delivery. */
export const payloadPathSchema = z.string().superRefine((path, ctx) => {
  const parsed = parsePayloadPath(path);
  if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(path.slice(0, 50))} ${parsed.problem}` });
});

/** The value at `path` in `payload`, or undefined when any step is missing. Own properties only. */
export function readPayloadPath(payload: unknown, path: string): unknown {
  const segments = parsePayloadPath(path);
  if ('problem' in segments) return undefined;
  let value: unknown = payload;
  for (const segment of segments) {
    if (typeof segment === 'number') {
      if (!Array.isArray(value)) return undefined;
      value = value[segment];
    } else {
      if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, segment)) return undefined;
      value = (value as Record<string, unknown>)[segment];
    }
  }
  return value;
}

/** Template variables from a payload by a mapping; a path with nothing there leaves its variable out. */
export function mapPayload(payload: unknown, mapping: Record<string, string>): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  for (const [name, path] of Object.entries(mapping)) {
    const value = readPayloadPath(payload, path);
    if (value !== undefined) variables[name] = value;
  }
  return variables;
}
