import { z } from 'zod';
import { bool, int } from './value-schemas.ts';

/** Where data lives: the data directory, the database (embedded or PostgreSQL) and its pool. */
export const databaseSettings = {
  AGENTRY_DATA_DIR: z
    .string()
    .min(1)
    .default('./data')
    .describe('Directory for the embedded database, its backups and the generated secret key.'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .optional()
    .describe('PostgreSQL ≥ 15 connection string. Unset: the embedded database (PGlite) in AGENTRY_DATA_DIR.'),
  DATABASE_POOL_MAX: int(1, 1000)
    .default(10)
    .describe('Maximum connections in the pool for a server database (the embedded one uses one).'),
  DATABASE_POOL_TIMEOUT_MS: int(100, 600_000)
    .default(3000)
    .describe('How long a request waits for a free connection before answering 503 DATABASE_BUSY.'),
  DATABASE_STATEMENT_TIMEOUT_MS: int(0, 3_600_000)
    .default(30_000)
    .describe('PostgreSQL statement_timeout for server deployments (0 = none).'),
  AGENTRY_AUTO_MIGRATE: bool
    .default(true)
    .describe('Apply pending migrations at start (under a lock; embedded databases are backed up first).'),
} as const;
