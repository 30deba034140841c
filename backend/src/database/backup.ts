import fs from 'node:fs';
import { sql } from 'kysely';
import { AppError } from '../errors.ts';
import { MigrationRunner } from './migration-runner.ts';
import type { PostgresDatabase } from './postgres-database.ts';

const secretKeyHeader = '-- agentry-secret-key: ';

/**
 * Writes a portable plain-SQL backup of the whole database to `file`. The secret key that
 * encrypts stored credentials is left out unless `secretKey` is given: a backup that leaks then
 * leaks no usable credential, and the key can be kept somewhere else.
 */
export async function backupDatabase(database: PostgresDatabase, file: string, options: { secretKey?: string } = {}): Promise<void> {
  await database.dump(file);
  if (options.secretKey) {
    const body = fs.readFileSync(file);
    fs.writeFileSync(file, Buffer.concat([Buffer.from(`${secretKeyHeader}${options.secretKey}\n`), body]), { mode: 0o600 });
  }
}

/** The secret key a backup carries, if it was made with --include-secret-key. */
export function readBackupHeader(file: string): { secretKey?: string } {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(512);
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
    const firstLine = buffer.subarray(0, n).toString('utf8').split('\n', 1)[0] ?? '';
    return firstLine.startsWith(secretKeyHeader) ? { secretKey: firstLine.slice(secretKeyHeader.length).trim() } : {};
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Loads a backup into an empty database, embedded or server, in one transaction: a restore that
 * fails leaves the database as empty as it found it. A database that already has Agentry's
 * tables is refused, so a restore never mixes two installations.
 */
export async function restoreDatabase(database: PostgresDatabase, file: string): Promise<void> {
  if (!fs.existsSync(file)) throw new AppError('RESTORE_REFUSED', `The backup file ${file} does not exist.`);
  if (!(await new MigrationRunner(database.db).isFresh())) {
    throw new AppError(
      'RESTORE_REFUSED',
      'The target database already holds an Agentry installation. Restore into an empty AGENTRY_DATA_DIR or an empty PostgreSQL database.',
    );
  }
  const dump = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    // pg_dump ≥ 17 emits this setting; older servers do not know it, and it changes nothing here.
    .filter((line) => !/^SET transaction_timeout = /.test(line))
    // Recent pg_dump releases fence the dump with psql meta-commands, which are not SQL.
    .filter((line) => !/^\\(un)?restrict\b/.test(line))
    .join('\n');
  await database.db.connection().execute(async (connection) => {
    try {
      await sql.raw(`BEGIN;\n${dump}\nCOMMIT;`).execute(connection);
    } catch (error) {
      await sql`ROLLBACK`.execute(connection).catch(() => undefined);
      throw new AppError('RESTORE_REFUSED', `The backup could not be loaded; nothing was restored. ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      // pg_dump clears search_path for its own statements; give the next user of this session a clean one.
      await sql`RESET ALL`.execute(connection).catch(() => undefined);
    }
  });
}
