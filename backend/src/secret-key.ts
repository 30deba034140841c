import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.ts';
import { isEmbedded } from './database/index.ts';
import { AppError } from './errors.ts';

/*
 * The secret key is a keyring: one or more keys, comma-separated, each a bare key or
 * `label:key` (the label only helps people tell keys apart). The first key encrypts; every key
 * decrypts, so records written under an older key stay readable after a new one is put first,
 * until `agentry keys rotate` rewrites them. A record names its key by the key's fingerprint (a
 * short hash of it), so relabelling or reordering keys never strands a record. Keys are at least
 * 32 random bytes, base64 or base64url.
 */

export interface SecretKey {
  /** The key's fingerprint: what records store. */
  id: string;
  /** The AES-256 key derived from the key material (HKDF-SHA256). */
  aesKey: Buffer;
}

export interface Keyring {
  /** The key new records are written under. */
  current: SecretKey;
  get(id: string): SecretKey | undefined;
  ids: string[];
}

const keyIdPattern = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const keyMaterialPattern = /^[A-Za-z0-9+/=_-]{43,}$/;

/** Why `text` is not a keyring, or undefined when it is one. Never echoes key material. */
export function keyringProblem(text: string): string | undefined {
  const entries = text.split(',').map((e) => e.trim());
  const ids = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const separator = entry.indexOf(':');
    const id = separator >= 0 ? entry.slice(0, separator) : undefined;
    const material = separator >= 0 ? entry.slice(separator + 1) : entry;
    if (id !== undefined && !keyIdPattern.test(id))
      return `key ${index + 1}: its label must be lower-case letters, digits, - and _ (at most 32)`;
    if (!keyMaterialPattern.test(material) || decode(material).length < 32)
      return `key ${index + 1} must be at least 32 random bytes, base64 or base64url encoded`;
    const fingerprint = fingerprintOf(material);
    if (ids.has(fingerprint)) return `key ${index + 1} appears twice (${fingerprint})`;
    ids.add(fingerprint);
  }
  return undefined;
}

export function parseKeyring(text: string): Keyring {
  const problem = keyringProblem(text);
  if (problem) throw new AppError('CONFIG_INVALID', `AGENTRY_SECRET_KEY: ${problem}.`);
  const keys = text.split(',').map((entry) => {
    const trimmed = entry.trim();
    const separator = trimmed.indexOf(':');
    const material = separator >= 0 ? trimmed.slice(separator + 1) : trimmed;
    return {
      id: fingerprintOf(material),
      aesKey: Buffer.from(hkdfSync('sha256', decode(material), Buffer.alloc(0), 'agentry credentials v1', 32)),
    };
  });
  const byId = new Map(keys.map((k) => [k.id, k]));
  return { current: keys[0]!, get: (id) => byId.get(id), ids: keys.map((k) => k.id) };
}

/** A fresh key entry, `label:key` (the label is the date it was made), for a keyring. */
export function generateKeyEntry(now = new Date()): string {
  return `k${now.toISOString().slice(0, 10).replace(/\D/g, '')}:${randomBytes(32).toString('base64url')}`;
}

/**
 * The keyring text. Set AGENTRY_SECRET_KEY in server deployments; an embedded installation
 * without it generates one into its data directory on first start (`secret.key`, mode 0600) and
 * reads it from there afterwards.
 */
export function resolveSecretKey(config: Config): string {
  if (config.secretKey) return config.secretKey;
  // Instances of a server deployment share its database, so each must be given the same key.
  if (!isEmbedded(config.database)) {
    throw new AppError(
      'CONFIG_INVALID',
      'AGENTRY_SECRET_KEY must be set when DATABASE_URL is: every instance needs the same key. Generate one with: openssl rand -base64 32',
    );
  }
  const file = secretKeyFile(config);
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString('base64');
  fs.writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

export function secretKeyFile(config: Config): string {
  return path.join(config.dataDir, 'secret.key');
}

function decode(material: string): Buffer {
  return Buffer.from(material.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/** A key's fingerprint: a short hash of it, stable across restarts, instances and labels. */
function fingerprintOf(material: string): string {
  return `k-${createHash('sha256').update(decode(material)).digest('hex').slice(0, 8)}`;
}
