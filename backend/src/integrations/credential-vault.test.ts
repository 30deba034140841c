import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateKeyEntry, parseKeyring } from '../secret-key.ts';
import { CredentialVault } from './credential-vault.ts';

const key = () => randomBytes(32).toString('base64');
const alice = { userId: 'user-a', connectionId: 'connection-1' };
const bob = { userId: 'user-b', connectionId: 'connection-2' };

describe('the credential vault', () => {
  const vault = new CredentialVault(parseKeyring(key()));

  it('seals with a fresh IV each time and opens what it sealed', () => {
    const credentials = { accessToken: 'canary-access', refreshToken: 'canary-refresh' };
    const one = vault.seal(alice, credentials);
    const two = vault.seal(alice, credentials);
    expect(one.sealed.equals(two.sealed)).toBe(false);
    expect(one.sealed.toString('latin1')).not.toContain('canary');
    expect(vault.open(alice, one)).toEqual(credentials);
  });

  it('refuses a record moved to another row or user', () => {
    const sealed = vault.seal(alice, { accessToken: 'a' });
    expect(() => vault.open(bob, sealed)).toThrow(expect.objectContaining({ code: 'CREDENTIALS_UNREADABLE' }));
    expect(() => vault.open({ ...alice, connectionId: 'connection-3' }, sealed)).toThrow(
      expect.objectContaining({ code: 'CREDENTIALS_UNREADABLE' }),
    );
  });

  it('refuses a record with any byte flipped', () => {
    const sealed = vault.seal(alice, { apiKey: 'k' });
    for (const index of [1, 13, sealed.sealed.length - 1]) {
      const tampered = Buffer.from(sealed.sealed);
      tampered[index] = tampered[index]! ^ 0x01;
      expect(() => vault.open(alice, { ...sealed, sealed: tampered })).toThrow(expect.objectContaining({ code: 'CREDENTIALS_UNREADABLE' }));
    }
  });

  it('reads records of an older key after a new one is put first, and writes under the new one', () => {
    const old = key(); // bare, as generated on first start
    const before = new CredentialVault(parseKeyring(old));
    const sealed = before.seal(alice, { accessToken: 'kept' });
    const next = generateKeyEntry();
    // The old key given a label when the new one is added: records find it by its fingerprint.
    const after = new CredentialVault(parseKeyring(`${next},old:${old}`));
    expect(after.open(alice, sealed)).toEqual({ accessToken: 'kept' });
    expect(after.seal(alice, { accessToken: 'new' }).keyId).toBe(parseKeyring(next).current.id);
    expect(after.seal(alice, { accessToken: 'new' }).keyId).not.toBe(sealed.keyId);
    // A key dropped from the ring: its records are unreadable, with a message that names it.
    expect(() => new CredentialVault(parseKeyring(next)).open(alice, sealed)).toThrow(new RegExp(sealed.keyId));
  });
});

describe('the keyring', () => {
  it('takes bare keys or label:key entries, the first being current, each known by its fingerprint', () => {
    const bare = key();
    expect(parseKeyring(bare).current.id).toMatch(/^k-[0-9a-f]{8}$/);
    expect(parseKeyring(`anything:${bare}`).current.id).toBe(parseKeyring(bare).current.id);
    const fresh = key();
    expect(parseKeyring(`new:${fresh}, ${bare}`).ids).toEqual([parseKeyring(fresh).current.id, parseKeyring(bare).current.id]);
  });

  it('refuses short keys, bad ids and duplicates without echoing the key', () => {
    const short = Buffer.alloc(16, 1).toString('base64');
    expect(() => parseKeyring(short)).toThrow(/at least 32 random bytes/);
    expect(() => parseKeyring(short)).not.toThrow(new RegExp(short.slice(0, 10)));
    expect(() => parseKeyring(`Bad Id:${key()}`)).toThrow(/its label/);
    const same = key();
    expect(() => parseKeyring(`a:${same},b:${same}`)).toThrow(/appears twice/);
  });
});
