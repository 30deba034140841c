import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.ts';
import { AppError } from './errors.ts';

/**
 * The key that encrypts stored credentials. Set AGENTRY_SECRET_KEY in server deployments; an
 * embedded installation without it generates one into its data directory on first start
 * (`secret.key`, mode 0600) and reads it from there afterwards.
 */
export function resolveSecretKey(config: Config): string {
  if (config.secretKey) return config.secretKey;
  if (config.database.driver === 'postgres') {
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
