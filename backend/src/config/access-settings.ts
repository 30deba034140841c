import { z } from 'zod';
import { keyringProblem } from '../secret-key.ts';
import { int, perMinute } from './value-schemas.ts';

/** Who gets in and how long: the keyring for stored credentials, the first admin, sign-ins and tokens. */
export const accessSettings = {
  AGENTRY_SECRET_KEY: z
    .string()
    .superRefine((value, ctx) => {
      const problem = keyringProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional()
    .describe(
      'Keyring that encrypts stored credentials: a key of at least 32 random bytes (base64), or several as comma-separated id:key with the current one first. Embedded: generated into AGENTRY_DATA_DIR/secret.key on first start. Server deployments must set it.',
    ),
  AGENTRY_ADMIN_EMAIL: z.email().default('admin@localhost').describe('Email of the admin user created on the very first start.'),
  AUTH_FAILURE_LIMIT: perMinute.default(20).describe('Failed authentications per minute per client address before 429 (per instance).'),
  CONSOLE_SESSION_DAYS: int(1, 365)
    .default(7)
    .describe('How long a console sign-in lasts; each is a token of its own, listed and revocable with the others.'),
  TOKEN_CACHE_TTL_MS: int(0, 60_000)
    .default(5000)
    .describe('How long a verified token is cached (revocation and disabling evict it at once).'),
} as const;
