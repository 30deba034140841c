import { describe, expect, it } from 'vitest';
import { redactSecrets } from './redact-secrets.ts';

const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

describe('redactSecrets', () => {
  it('replaces keys, private keys and password pairs, and counts them', () => {
    const text = [
      'OpenAI key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234 in the env.',
      'AWS: AKIAIOSFODNN7EXAMPLE, GitHub: ghp_abcdefghijklmnopqrstuvwxyz0123456789.',
      'db_password = "correct horse battery"; api_key: abc123def456',
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
    ].join('\n');
    const { text: out, redactions } = redactSecrets(text);
    expect(redactions).toBe(6);
    for (const secret of ['sk-proj', 'AKIAIOSFODNN7', 'ghp_', 'correct horse', 'abc123def456', 'b3BlbnNz'])
      expect(out).not.toContain(secret);
    expect(out).toContain('db_password = [REDACTED]');
  });

  it('leaves ordinary prose alone', () => {
    const text = 'Reset your password from the settings page. The token bucket algorithm limits rates.';
    expect(redactSecrets(text)).toEqual({ text, redactions: 0 });
  });

  it('finds a JWT wherever a word starts, keeping what precedes it in its run', () => {
    expect(redactSecrets(`Authorization: Bearer ${jwt}`).text).toBe('Authorization: Bearer [REDACTED]');
    expect(redactSecrets(`session-${jwt}.`).text).toBe('session-[REDACTED].');
    expect(redactSecrets(`eyJx-a-${jwt}`).text).toBe('[REDACTED]'); // from the run's first eyJ, as `\beyJ` did
    expect(redactSecrets(`session_${jwt}`).redactions).toBe(0); // no word starts at the eyJ
    expect(redactSecrets(jwt.replace('.eyJ', '.abc')).redactions).toBe(0);
  });

  it('keeps the whole name of a pair, and takes only values after a name that ends in a credential word', () => {
    expect(redactSecrets('x.auth-token: abc and ..password=x').text).toBe('x.auth-token: [REDACTED] and ..password=[REDACTED]');
    expect(redactSecrets("API-KEY='a b', PWD = c;").text).toBe('API-KEY=[REDACTED], PWD = [REDACTED];');
    expect(redactSecrets('mypassword=x password_hint=y password=""').redactions).toBe(0);
  });

  it('catches what the patterns it replaced caught', () => {
    // The former patterns, quadratic on long runs, as the reference on short texts made of the
    // pieces that decide a match.
    const former = [
      /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g,
      /\b((?:[A-Za-z0-9_.-]*[_.-])?(?:password|passwd|pwd|passphrase|secret|api[_-]?key|access[_-]?key|auth[_-]?token|access[_-]?token|token)\b\s*[:=]\s*)("[^"\n]*"|'[^'\n]*'|[^\s,;]+)/gi,
    ];
    const reference = (text: string) => {
      let redactions = 0;
      const out = text
        .replace(former[0]!, () => (redactions++, '[REDACTED]'))
        .replace(former[1]!, (match, name: string, value: string) =>
          value === '[REDACTED]' || value.replace(/["']/g, '') === '' ? match : (redactions++, `${name}[REDACTED]`),
        );
      return { text: out, redactions };
    };
    const pieces = [
      'eyJhbGciOiJIUzI1NiJ9',
      '.eyJzdWIiOiIxMjM0NTY3ODkwIn0',
      '.SflKxwRJSMeKKF2QT4',
      'eyJ',
      'abcdefghij',
      '-',
      '.',
      '_',
      ' ',
      'x',
      'password',
      'Api_Key',
      'auth-token',
      '=',
      ':',
      '"',
      "'",
      '\n',
      ',',
      'db',
    ];
    let seed = 7;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), (seed >>> 16) % n);
    let caught = 0;
    let jwts = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = Array.from({ length: 1 + random(10) }, () => pieces[random(pieces.length)]).join('');
      const expected = reference(text);
      expect(redactSecrets(text), text).toEqual(expected);
      if (expected.redactions > 0) caught++;
      if (expected.redactions > 0 && text.includes('.eyJz')) jwts++;
    }
    expect(caught).toBeGreaterThan(500); // the texts do hold secrets
    expect(jwts).toBeGreaterThan(100);
  });
});
