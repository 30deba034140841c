import { Migrator, NO_MIGRATIONS, sql, type Kysely, type Migration, type MigrationResultSet } from 'kysely';
import { coreMigrations, vectorMigrations } from '../../database/migrations/index.ts';
import { AppError } from '../errors.ts';
import type { DatabaseSchema } from './schema.ts';

type Track = 'core' | 'vector';

export interface MigrationState {
  name: string;
  track: Track;
  executedAt: Date | null;
}

export interface MigrationStatus {
  migrations: MigrationState[];
  /** Pending migrations that can run here. */
  pending: number;
  /** Pending migrations that need the vector extension, which this database does not have and its role cannot install. */
  blocked: number;
  vectorAvailable: boolean;
}

export interface MigrationRun {
  applied: { name: string; direction: 'Up' | 'Down' }[];
}

const tracks: Record<Track, { migrations: Record<string, Migration>; table: string }> = {
  core: { migrations: coreMigrations, table: 'agentry_migrations' },
  vector: { migrations: vectorMigrations, table: 'agentry_vector_migrations' },
};

/**
 * Applies and reverts the migrations in backend/database/migrations/. Kysely's Migrator runs each
 * batch in one transaction under an advisory lock, so two instances starting together apply each
 * migration once and a failed migration leaves nothing half-done.
 */
export class MigrationRunner {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  private migrator(track: Track): Migrator {
    const { migrations, table } = tracks[track];
    return new Migrator({
      db: this.db,
      provider: { getMigrations: async () => withoutStatementTimeout(migrations) },
      migrationTableName: table,
      migrationLockTableName: `${table}_lock`,
    });
  }

  /**
   * Whether pgvector is installed in this database, or this role can install it. The server having
   * pgvector's files is not enough: pgvector is not a trusted extension, so on a managed server
   * whose role is no superuser, "create extension" fails until an administrator runs it. Without
   * this check such a server would fail its first start with MIGRATION_FAILED instead of starting
   * with the knowledge base unavailable.
   */
  async vectorAvailable(): Promise<boolean> {
    const { rows } = await sql<{ available: boolean }>`
      select exists (select 1 from pg_extension where extname = 'vector')
          or exists (
               select 1 from pg_available_extension_versions v
                where v.name = 'vector'
                  and (not v.superuser
                       or (v.trusted and has_database_privilege(current_database(), 'CREATE'))
                       or (select rolsuper from pg_roles where rolname = current_user))
             ) as available`.execute(this.db);
    return rows[0]?.available ?? false;
  }

  async status(): Promise<MigrationStatus> {
    const vectorAvailable = await this.vectorAvailable();
    const migrations: MigrationState[] = [];
    for (const track of ['core', 'vector'] as const) {
      for (const info of await this.migrator(track).getMigrations()) {
        migrations.push({ name: info.name, track, executedAt: info.executedAt ?? null });
      }
    }
    const pendingOf = (track: Track) => migrations.filter((m) => m.track === track && !m.executedAt).length;
    return {
      migrations,
      pending: pendingOf('core') + (vectorAvailable ? pendingOf('vector') : 0),
      blocked: vectorAvailable ? 0 : pendingOf('vector'),
      vectorAvailable,
    };
  }

  /** True when no migration has ever run here: a new database, with nothing to back up. */
  async isFresh(): Promise<boolean> {
    return (await this.status()).migrations.every((m) => !m.executedAt);
  }

  /** Applies every pending migration: core first, then vector where the extension is available. */
  async up(): Promise<MigrationRun> {
    const applied = check(await this.migrator('core').migrateToLatest());
    if (await this.vectorAvailable()) applied.push(...check(await this.migrator('vector').migrateToLatest()));
    return { applied };
  }

  /**
   * Reverts one migration (the newest vector one first: vector migrations build on core), or
   * every migration after `to`. `to` is a migration name, or "0" for all of them.
   */
  async down(to?: string): Promise<MigrationRun> {
    const status = await this.status();
    const executed = (track: Track) => status.migrations.filter((m) => m.track === track && m.executedAt);
    if (to === undefined) {
      const track: Track = executed('vector').length > 0 ? 'vector' : 'core';
      return { applied: check(await this.migrator(track).migrateDown()) };
    }
    const target = status.migrations.find((m) => m.name === to);
    if (to !== '0' && !target) {
      throw new AppError('VALIDATION_FAILED', `No migration is named "${to}". "agentry migrate status" lists them.`);
    }
    const applied: MigrationRun['applied'] = [];
    if (target?.track === 'vector') {
      applied.push(...check(await this.migrator('vector').migrateTo(target.name)));
      return { applied };
    }
    if (executed('vector').length > 0) applied.push(...check(await this.migrator('vector').migrateTo(NO_MIGRATIONS)));
    if (executed('core').length > 0) applied.push(...check(await this.migrator('core').migrateTo(target?.name ?? NO_MIGRATIONS)));
    return { applied };
  }
}

/**
 * Migrations run in the migrator's transaction; an index build may take longer than the pool's
 * statement timeout, which is meant for requests. SET LOCAL lifts it for that transaction only.
 */
function withoutStatementTimeout(migrations: Record<string, Migration>): Record<string, Migration> {
  const lift =
    (step: Migration['up']): Migration['up'] =>
    async (db) => {
      await sql`set local statement_timeout = 0`.execute(db);
      await step(db);
    };
  return Object.fromEntries(
    Object.entries(migrations).map(([name, m]) => [name, { up: lift(m.up), ...(m.down ? { down: lift(m.down) } : {}) }]),
  );
}

function check(result: MigrationResultSet): MigrationRun['applied'] {
  const applied = (result.results ?? [])
    .filter((r) => r.status === 'Success')
    .map((r) => ({ name: r.migrationName, direction: r.direction }));
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName;
    const message = result.error instanceof Error ? result.error.message : String(result.error);
    throw new AppError('MIGRATION_FAILED', `Migration ${failed ?? '(setup)'} failed: ${message}`, {
      details: { migration: failed },
      cause: result.error,
    });
  }
  return applied;
}
