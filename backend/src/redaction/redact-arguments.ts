import { isCredentialName } from './credential-name.ts';
import { redactionMarker, redactSecrets } from './redact-secrets.ts';

/** What a redacted copy of arguments keeps, at most: enough to recognise a call, bounded before any pattern runs. */
const argumentLimits = { maxString: 2000, maxName: 200, maxEntries: 50, maxDepth: 5 } as const;

/**
 * Tool arguments as an event, the usage record or a transcript shows them: values of fields
 * whose name says credential (`isCredentialName`) replaced by the marker, credential-looking text
 * redacted, strings, names, arrays and objects cut to bounded sizes (a cut string ends with `…`).
 * The one way arguments leave the tool call, so the same things are hidden everywhere they appear.
 */
export function redactArguments(value: unknown): unknown {
  return redactValue(value, 0);
}

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') {
    const cut = value.length > argumentLimits.maxString;
    return redactSecrets(value.slice(0, argumentLimits.maxString)).text + (cut ? '…' : '');
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth > argumentLimits.maxDepth) return '[…]';
  if (Array.isArray(value)) return value.slice(0, argumentLimits.maxEntries).map((item) => redactValue(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value)
      .slice(0, argumentLimits.maxEntries)
      .map(([key, item]) => {
        const name = key.slice(0, argumentLimits.maxName);
        return [name, isCredentialName(name) ? redactionMarker : redactValue(item, depth + 1)];
      }),
  );
}
