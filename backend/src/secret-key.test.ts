import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { resolveSecretKey } from './secret-key.ts';

describe('the secret key', () => {
  it('is generated into an embedded data directory once, mode 0600, and read back afterwards', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-key-'));
    const config = loadConfig({ AGENTRY_DATA_DIR: dir }, dir);
    const key = resolveSecretKey(config);
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    expect(fs.statSync(path.join(dir, 'secret.key')).mode & 0o777).toBe(0o600);
    expect(resolveSecretKey(config)).toBe(key);
  });

  it('must be set for a server deployment', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://db/agentry' }, os.tmpdir());
    expect(() => resolveSecretKey(config)).toThrow(/AGENTRY_SECRET_KEY must be set/);
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(resolveSecretKey(loadConfig({ DATABASE_URL: 'postgres://db/agentry', AGENTRY_SECRET_KEY: key }, os.tmpdir()))).toBe(key);
  });
});
