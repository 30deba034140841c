/*
 * Credentials never reach a chunk or an embedding. Before a document is chunked, text that looks
 * like one is replaced by a marker: private key blocks, well-known API key shapes, and
 * `password=…`-style pairs (the name is kept, the value goes).
 */
export const redactionMarker = '[REDACTED]';

const patterns: RegExp[] = [
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  /\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}/g,
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
  /\bgh[pousr]_[A-Za-z0-9]{36,}\b/g,
  /\bgithub_pat_[A-Za-z0-9_]{22,}\b/g,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
  /\bAIza[0-9A-Za-z_-]{35}\b/g,
  /\b(?:sk|rk|pk)_live_[A-Za-z0-9]{16,}\b/g,
  /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g,
  /\bagt_[A-Za-z0-9_-]{30,}/g,
];

/** `password = hunter2`, `api_key: "…"`, `client_secret=…`: the value after the name. */
const secretPair =
  /\b((?:[A-Za-z0-9_.-]*[_.-])?(?:password|passwd|pwd|passphrase|secret|api[_-]?key|access[_-]?key|auth[_-]?token|access[_-]?token|token)\b\s*[:=]\s*)("[^"\n]*"|'[^'\n]*'|[^\s,;]+)/gi;

export function redactSecrets(text: string): { text: string; redactions: number } {
  let redactions = 0;
  let out = text;
  for (const pattern of patterns) {
    out = out.replace(pattern, () => {
      redactions++;
      return redactionMarker;
    });
  }
  out = out.replace(secretPair, (match, name: string, value: string) => {
    if (value === redactionMarker || value.replace(/["']/g, '') === '') return match;
    redactions++;
    return `${name}${redactionMarker}`;
  });
  return { text: out, redactions };
}
