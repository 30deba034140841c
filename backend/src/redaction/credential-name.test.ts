import { describe, expect, it } from 'vitest';
import { sanitizeContext } from '../sessions/index.ts';
import { isCredentialName } from './credential-name.ts';
import { redactArguments } from './redact-arguments.ts';

const credentials = [
  'token',
  'Token',
  'accessToken',
  'refresh_token',
  'APIToken',
  'api_key',
  'apiKey',
  'APIKey',
  'x-api-key',
  'X-Auth-Token',
  'auth',
  'client_secret',
  'clientSecret',
  'secrets',
  'password',
  'userPassword',
  'DB_PASSWD',
  'passphrase',
  'passcode',
  'private_key',
  'privateKey',
  'cookie',
  'Set-Cookie',
  'authorization',
  'Proxy-Authorization',
  'credentials',
  'webhook.signature',
];
const ordinary = [
  'maxTokens',
  'tokens',
  'tokenizer',
  'passenger',
  'boarding_pass',
  'passRate',
  'bypass',
  'compass',
  'secretary',
  'author',
  'authors',
  'key',
  'keyword',
  'private',
  'monkey',
  'apiVersion',
  'subject',
  'to',
  '',
];

describe('isCredentialName', () => {
  it('says credential for a name with a credential word in it', () => {
    expect(credentials.filter((name) => !isCredentialName(name))).toEqual([]);
  });

  it('says nothing for names where such a word is only part of another word', () => {
    expect(ordinary.filter((name) => isCredentialName(name))).toEqual([]);
  });

  it('is the rule of session context and of tool arguments alike', () => {
    const fields = Object.fromEntries([...credentials, ...ordinary].map((name) => [name, 'plain']));
    const { context } = sanitizeContext(fields);
    expect(Object.keys(context).sort()).toEqual([...ordinary].sort());
    const shown = redactArguments(fields) as Record<string, string>;
    expect(
      Object.keys(shown)
        .filter((name) => shown[name] === '[REDACTED]')
        .sort(),
    ).toEqual([...credentials].sort());
  });

  it('reads a long name in linear time', () => {
    const started = performance.now();
    expect(isCredentialName('A'.repeat(200_000))).toBe(false);
    expect(isCredentialName(`${'aB'.repeat(100_000)}Token`)).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
