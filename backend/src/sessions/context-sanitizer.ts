import { isCredentialName, redactSecrets } from '../redaction/index.ts';

/** Why a part of a session's context was not stored. */
export interface DroppedContext {
  path: string;
  reason: 'secret-key' | 'secret-value' | 'too-long' | 'too-deep' | 'too-many' | 'too-large';
}

/** Limits on what a session keeps as context: it rides along with every checkpoint. */
export const contextLimits = { maxBytes: 64 * 1024, maxDepth: 6, maxKeys: 200, maxStringLength: 8_000 } as const;

const dropMark = Symbol('dropped');

/**
 * Makes client-supplied context safe to keep: drops keys that name credentials and values that look
 * like one (the redaction area's name rule and value patterns), and caps depth, breadth and string length.
 * Returns what was dropped, by path, so the caller can tell the client.
 */
export function sanitizeContext(input: Record<string, unknown>): { context: Record<string, unknown>; dropped: DroppedContext[] } {
  const dropped: DroppedContext[] = [];
  let keys = 0;
  const clean = (value: unknown, path: string, depth: number): unknown => {
    if (typeof value === 'string') {
      // Length first: the patterns then never meet more than a capped string.
      if (value.length > contextLimits.maxStringLength) return drop(path, 'too-long');
      if (redactSecrets(value).redactions > 0) return drop(path, 'secret-value');
      return value;
    }
    if (value === null || typeof value !== 'object') return value;
    if (depth >= contextLimits.maxDepth) return drop(path, 'too-deep');
    if (Array.isArray(value)) return value.map((item, i) => clean(item, `${path}[${i}]`, depth + 1)).filter((item) => item !== dropMark);
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const at = path ? `${path}.${key}` : key;
      if (++keys > contextLimits.maxKeys) {
        drop(at, 'too-many');
        continue;
      }
      if (isCredentialName(key)) {
        drop(at, 'secret-key');
        continue;
      }
      const cleaned = clean(item, at, depth + 1);
      if (cleaned !== dropMark) out[key] = cleaned;
    }
    return out;
  };
  const drop = (path: string, reason: DroppedContext['reason']) => {
    dropped.push({ path, reason });
    return dropMark;
  };
  const context = clean(input, '', 0) as Record<string, unknown>;
  if (Buffer.byteLength(JSON.stringify(context)) > contextLimits.maxBytes)
    return { context: {}, dropped: [...dropped, { path: '', reason: 'too-large' }] };
  return { context, dropped };
}
