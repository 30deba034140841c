import type { DatabaseDriver } from './postgres-database.ts';

/**
 * What the code above `database/` may assume about the database it was given, so that it asks
 * "may another instance write here?" rather than "is this PGlite?". One row per driver, each flag
 * with the reason it holds (Kysely's dialect capability flags are the model).
 */
export interface DatabaseCapabilities {
  /**
   * No other process can reach this database, so nothing here can be held by another instance:
   * a lease left by an earlier run of this process may be taken back at once, without waiting for
   * it to lapse.
   */
  readonly exclusive: boolean;
  /**
   * Every write comes from this process, so an event appended here is heard by ringing a doorbell
   * in process; otherwise other instances append too and only LISTEN/NOTIFY reaches them all.
   */
  readonly inProcessNotify: boolean;
  /**
   * The data lives in files this installation keeps itself, with no administrator taking backups:
   * Agentry writes one (to AGENTRY_DATA_DIR/backups) before it migrates data that exists.
   */
  readonly selfManagedBackups: boolean;
}

export const databaseCapabilities = {
  // The embedded database runs in a child process of this one, reached over a socket in a data
  // directory this process holds the lock of (data-dir-lock.ts): no other instance can open it.
  pglite: { exclusive: true, inProcessNotify: true, selfManagedBackups: true },
  // A server several instances may share; its backups are its administrator's (pg_dump, PITR), and
  // a dump of a large database at every start would be slow.
  postgres: { exclusive: false, inProcessNotify: false, selfManagedBackups: false },
} as const satisfies Record<DatabaseDriver, DatabaseCapabilities>;
