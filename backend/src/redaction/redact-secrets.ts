/*
 * Text that looks like a credential, replaced by a marker wherever the product keeps or shows text
 * it did not write (documents before chunking, session context, tool arguments): private key blocks, well-known API key shapes, and
 * `password=…`-style pairs (the name is kept, the value goes).
 *
 * These patterns meet whole documents and anything a client sends, so each runs in linear time
 * (backend/test/linear-patterns.test.ts holds every pattern of the product to that). Where a
 * match's prefix could begin anywhere in a run of characters (`db_password`, `x-eyJ…`), a match
 * may only begin where the run begins (a one-character lookbehind) rather than at every `\b`
 * inside it, so a run is never rescanned from each of its positions.
 */
export const redactionMarker = '[REDACTED]';

/** A match's `keep` group, when it has one, stays in the text before the marker. */
const patterns: RegExp[] = [
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  /\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}/g,
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
  /\bgh[pousr]_[A-Za-z0-9]{36,}\b/g,
  /\bgithub_pat_[A-Za-z0-9_]{22,}\b/g,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
  /\bAIza[0-9A-Za-z_-]{35}\b/g,
  /\b(?:sk|rk|pk)_live_[A-Za-z0-9]{16,}\b/g,
  /*
   * A JWT: `eyJ…` where a run of base64url characters begins or after a `-` in it, `.eyJ…`, `.…`.
   * The lookahead first checks, once per run, that the run is followed by the other two parts;
   * only then is its first `eyJ` looked for (the `keep` prefix: whole words and their dashes).
   */
  /(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10})(?<keep>(?:[A-Za-z0-9_]*-)*?)eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g,
  /\bagt_[A-Za-z0-9_-]{30,}/g,
];

/**
 * `password = hunter2`, `api_key: "…"`, `client_secret=…`: the value after the name. The name
 * is the whole run of name characters that ends in one of the words, so it starts where that run
 * starts: the lookbehind, not `\b`, which would let the prefix start again at every `.` and `-`.
 */
const secretPair =
  /(?<![A-Za-z0-9_.-])((?:[A-Za-z0-9_.-]*[_.-])?(?:password|passwd|pwd|passphrase|secret|api[_-]?key|access[_-]?key|auth[_-]?token|access[_-]?token|token)\b\s*[:=]\s*)("[^"\n]*"|'[^'\n]*'|[^\s,;]+)/gi;

/**
 * The text with credentials replaced by the marker, and how many. Linear in the text's length:
 * a caller that holds the event loop still caps what it passes.
 */
export function redactSecrets(text: string): { text: string; redactions: number } {
  let redactions = 0;
  let out = text;
  for (const pattern of patterns) {
    out = out.replace(pattern, (...args: unknown[]) => {
      redactions++;
      const groups = args.at(-1) as { keep?: string } | string;
      return (typeof groups === 'object' ? (groups.keep ?? '') : '') + redactionMarker;
    });
  }
  out = out.replace(secretPair, (match, name: string, value: string) => {
    if (value === redactionMarker || value.replace(/["']/g, '') === '') return match;
    redactions++;
    return `${name}${redactionMarker}`;
  });
  return { text: out, redactions };
}
