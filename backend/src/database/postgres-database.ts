import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import { AppError } from '../errors.ts';
import { databaseCapabilities, type DatabaseCapabilities } from './database-capabilities.ts';
import { NotificationListener, type NotificationHandler } from './notification-listener.ts';
import { startPgliteHost, type PgliteHost } from './pglite-launcher.ts';
import { prepareStatements, StatementNames } from './prepared-statements.ts';
import type { DatabaseSchema } from './schema.ts';

export type DatabaseTarget = { driver: 'postgres'; url: string } | { driver: 'pglite'; dataDir: string };
export type DatabaseDriver = DatabaseTarget['driver'];

/**
 * The embedded shape (no DATABASE_URL): a question about the configuration, for code that decides
 * before or without opening the database (where the secret key may live). Code holding an open
 * database asks its `capabilities` instead.
 */
export function isEmbedded(target: DatabaseTarget): target is Extract<DatabaseTarget, { driver: 'pglite' }> {
  return target.driver === 'pglite';
}

export interface DatabaseOptions {
  pool: { max: number; timeoutMs: number; statementTimeoutMs: number };
  /** Where the pool's background errors go (an idle connection dropped, a listener reconnect). */
  onBackgroundError?: (error: Error) => void;
  /** Recorded in the embedded data directory's lock file. */
  purpose?: string;
  /**
   * The embedded database's process died under us. Nothing can be served without it; the server
   * exits so its supervisor restarts it (the data directory is consistent: PGlite is crash-safe).
   */
  onEmbeddedExit?: (error: Error) => void;
}

export type Executor = Kysely<DatabaseSchema> | Transaction<DatabaseSchema>;

/**
 * THE database service: one small interface over a PostgreSQL server (`pg` Pool) or the embedded
 * PGlite database (in its own process, reached over the wire protocol by the same `pg` Pool).
 * Typed queries through Kysely, transactions, LISTEN/NOTIFY, health and pool statistics.
 *
 * Pool exhaustion never hangs a request: waiting for a connection longer than the pool timeout
 * fails with 503 DATABASE_BUSY; an unreachable database fails with 503 DATABASE_UNAVAILABLE.
 */
export class PostgresDatabase {
  readonly db: Kysely<DatabaseSchema>;
  /** What callers may assume about this database; see database-capabilities.ts for the reasons. */
  readonly capabilities: DatabaseCapabilities;
  private readonly listener: NotificationListener;
  private readonly commitCallbacks = new WeakMap<Transaction<DatabaseSchema>, (() => void)[]>();
  private closing: Promise<void> | undefined;
  private readonly statementNames = new StatementNames();

  private constructor(
    readonly driver: DatabaseDriver,
    private readonly pool: pg.Pool,
    private readonly connectionConfig: pg.ClientConfig,
    private readonly host: PgliteHost | undefined,
    private readonly onBackgroundError: (error: Error) => void,
  ) {
    // An idle connection that dies is reported by the pool. One that dies while checked out (an
    // administrator terminating it between two statements of a transaction) emits on the client:
    // without a listener that would end the process. Its next query fails, the transaction with
    // it, and the pool discards the connection.
    this.capabilities = databaseCapabilities[driver];
    pool.on('error', onBackgroundError);
    pool.on('connect', (client) => client.on('error', onBackgroundError));
    this.listener = new NotificationListener(async () => {
      const client = new pg.Client({ ...connectionConfig, application_name: 'agentry:listener' });
      // The listener attaches its own handlers once connected; an error that arrives in the same
      // read as the connection's readiness (a terminated backend) comes before then, and with no
      // listener at all it would end the process. Losing the connection is still heard ('end').
      client.on('error', () => undefined);
      await client.connect();
      return client;
    }, onBackgroundError);
    pool.on('connect', (client) => this.listener.attach(client));
    pool.on('connect', (client) => prepareStatements(client, this.statementNames));
    this.db = new Kysely<DatabaseSchema>({
      dialect: new PostgresDialect({
        pool: {
          connect: () => pool.connect().catch((error: Error) => Promise.reject(toDatabaseError(error))),
          end: () => pool.end(),
        },
      }),
    });
  }

  /** Opens the database; for the embedded driver, locks the directory and starts its process first. */
  static async open(target: DatabaseTarget, options: DatabaseOptions): Promise<PostgresDatabase> {
    const onBackgroundError = options.onBackgroundError ?? (() => undefined);
    if (target.driver === 'postgres') {
      const config: pg.ClientConfig = {
        connectionString: target.url,
        connectionTimeoutMillis: options.pool.timeoutMs,
        application_name: 'agentry',
        ...(options.pool.statementTimeoutMs > 0 ? { statement_timeout: options.pool.statementTimeoutMs } : {}),
        idle_in_transaction_session_timeout: 60_000,
      };
      const pool = new pg.Pool({ ...config, max: options.pool.max, idleTimeoutMillis: 30_000 });
      return new PostgresDatabase('postgres', pool, config, undefined, onBackgroundError);
    }
    // PGlite has one backend session, which its socket server shares between connections. Under
    // concurrent transactions from several connections that sharing stalls (seen with 8 writers),
    // and it gains nothing: statements run one at a time either way. So one pooled connection,
    // with requests queueing in the pool (bounded by its timeout), plus the listener's.
    const max = 1;
    const host = await startPgliteHost(target.dataDir, {
      maxConnections: 4,
      purpose: options.purpose ?? 'server',
      ...(options.onEmbeddedExit ? { onUnexpectedExit: options.onEmbeddedExit } : {}),
    });
    const config: pg.ClientConfig = {
      host: host.socketDir,
      user: 'postgres',
      database: 'postgres',
      connectionTimeoutMillis: options.pool.timeoutMs,
      application_name: 'agentry',
    };
    const pool = new pg.Pool({ ...config, max, idleTimeoutMillis: 0 });
    return new PostgresDatabase('pglite', pool, config, host, onBackgroundError);
  }

  /**
   * Runs `fn` in one transaction: all of its writes commit together or none do. Callbacks
   * registered with `afterCommit` run once it has committed, and never if it rolls back.
   */
  async transaction<T>(fn: (tx: Transaction<DatabaseSchema>) => Promise<T>): Promise<T> {
    let transaction: Transaction<DatabaseSchema> | undefined;
    const result = await this.db.transaction().execute((tx) => {
      transaction = tx;
      return fn(tx);
    });
    const callbacks = transaction ? this.commitCallbacks.get(transaction) : undefined;
    for (const callback of callbacks ?? []) {
      try {
        callback();
      } catch (error) {
        this.onBackgroundError(error as Error); // it committed: a failing callback must not say otherwise
      }
    }
    return result;
  }

  /** Runs `callback` when `executor`'s transaction commits; at once when `executor` is not a transaction. */
  afterCommit(executor: Executor, callback: () => void): void {
    if (!executor.isTransaction) return callback();
    const tx = executor as Transaction<DatabaseSchema>;
    const callbacks = this.commitCallbacks.get(tx) ?? [];
    callbacks.push(callback);
    this.commitCallbacks.set(tx, callbacks);
  }

  /** NOTIFY `channel`; inside a transaction it is delivered only if and when that transaction commits. */
  async notify(channel: string, payload: string, executor: Executor = this.db): Promise<void> {
    await sql`select pg_notify(${channel}, ${payload})`.execute(executor);
  }

  /**
   * Calls `handler` for every notification on `channel`; resolves to an unsubscribe function.
   * `onReconnect` runs after the listening connection was lost and LISTEN is in force again:
   * notifications sent in between are lost, so catch up from the source of truth there.
   */
  listen(channel: string, handler: NotificationHandler, onReconnect?: () => void): Promise<() => Promise<void>> {
    return this.listener.listen(channel, handler, onReconnect);
  }

  /** True when a trivial query answers. */
  async ping(): Promise<boolean> {
    try {
      await sql`select 1`.execute(this.db);
      return true;
    } catch {
      return false;
    }
  }

  async serverVersion(): Promise<string> {
    const { rows } = await sql<{ v: string }>`show server_version`.execute(this.db);
    return rows[0]?.v ?? 'unknown';
  }

  poolStats(): { total: number; idle: number; waiting: number; max: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount, max: this.pool.options.max };
  }

  /**
   * Writes a portable plain-SQL dump to `file`. Embedded: pg_dump compiled to WebAssembly, run by
   * the database process (call it only while nothing else is using the database). Server: the
   * `pg_dump` on PATH, which must match the server's major version.
   */
  async dump(file: string): Promise<void> {
    if (this.host) {
      // pg_dump shares the embedded database's one session, and leaves it without prepared statements.
      await this.host.dump(file);
      this.statementNames.forgetAll();
      return;
    }
    // The password travels in the environment, not in arguments other local users can read.
    const url = new URL(this.connectionConfig.connectionString ?? '');
    const password = decodeURIComponent(url.password);
    url.password = '';
    const partial = `${file}.partial`;
    const child = spawn('pg_dump', ['--inserts', '--no-owner', '--no-privileges', '--quote-all-identifiers', '--dbname', url.toString()], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve, reject) => {
      child.on('error', (error) => reject(new Error(`pg_dump could not run (${error.message}); install the PostgreSQL client tools.`)));
      child.on('close', resolve);
    });
    try {
      const [, code] = await Promise.all([pipeline(child.stdout, fs.createWriteStream(partial, { mode: 0o600 })), exited]);
      if (code !== 0) throw new Error(`pg_dump failed: ${stderr.trim()}`);
      fs.renameSync(partial, file);
    } catch (error) {
      fs.rmSync(partial, { force: true });
      throw error;
    }
  }

  /** Closes the pool, the listener and, for the embedded driver, its process and lock. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.listener.close();
      await this.db.destroy().catch(() => undefined);
      await this.host?.stop();
    })();
    return this.closing;
  }
}

// too many connections, config limit, statement timeout, a deadlock or serialization failure (try again)
const busyCodes = new Set(['53300', '53400', '57014', '40P01', '40001']);
const unavailableCodes = new Set(['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH']);

/**
 * Maps the driver's connection and capacity failures to AppErrors a client can act on (retry
 * later); returns every other error unchanged.
 */
export function toDatabaseError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof AppError) return error;
  const code = (error as { code?: string }).code;
  if (/timeout exceeded when trying to connect/i.test(error.message) || (code && busyCodes.has(code))) {
    return new AppError('DATABASE_BUSY', { cause: error });
  }
  if ((code && unavailableCodes.has(code)) || /Connection terminated|not queryable/i.test(error.message)) {
    return new AppError('DATABASE_UNAVAILABLE', { cause: error });
  }
  return error;
}
