import { describe, expect, it } from 'vitest';
import { redactSecrets } from './redaction.ts';

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
    for (const secret of ['sk-proj', 'AKIAIOSFODNN7', 'ghp_', 'correct horse', 'abc123def456', 'b3BlbnNz']) expect(out).not.toContain(secret);
    expect(out).toContain('db_password = [REDACTED]');
  });

  it('leaves ordinary prose alone', () => {
    const text = 'Reset your password from the settings page. The token bucket algorithm limits rates.';
    expect(redactSecrets(text)).toEqual({ text, redactions: 0 });
  });
});
