import { loadConfig } from '../backend/src/config.ts';
import { MigrationRunner, PostgresDatabase, type DatabaseTarget } from '../backend/src/database/index.ts';
import { createRuntime, type Runtime } from '../backend/src/runtime.ts';
import { buildApp } from '../backend/src/server/index.ts';
import { keepAliveClient } from './harness.ts';

export interface BenchApp {
  database: PostgresDatabase;
  runtime: Runtime;
  userId: string;
  /** The server's address and the bench user's token, for clients of their own. */
  url: string;
  token: string;
  /** POSTs JSON as the bench user on one kept-alive connection; throws on a non-2xx answer. */
  post<T = unknown>(url: string, body: unknown): Promise<T>;
  close(): Promise<void>;
}

/**
 * The real server on a migrated database, listening on 127.0.0.1, rate limits off, with one user;
 * `settings` adds to its configuration.
 */
export async function startBenchApp(target: DatabaseTarget, dataDir: string, settings: Record<string, string> = {}): Promise<BenchApp> {
  const database = await PostgresDatabase.open(target, { pool: { max: 10, timeoutMs: 10_000, statementTimeoutMs: 0 }, purpose: 'bench' });
  await new MigrationRunner(database.db).up();
  const config = loadConfig({
    AGENTRY_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_DEFAULT: '1000000',
    RATE_LIMIT_PROMPT_GENERATION: '1000000',
    ...(target.driver === 'postgres' ? { DATABASE_URL: target.url, AGENTRY_SECRET_KEY: Buffer.alloc(32, 5).toString('base64') } : {}),
    ...settings,
  });
  const runtime = await createRuntime(config, database, { warn: () => undefined, info: () => undefined });
  const app = await buildApp(runtime, { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { user, token } = await runtime.users.create({ email: 'bench@example.test', name: 'Bench' }, { userId: null, ip: null });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const client = keepAliveClient(url, { authorization: `Bearer ${token}` });
  return {
    database,
    runtime,
    userId: user.id,
    url,
    token,
    async post<T>(url: string, body: unknown): Promise<T> {
      const response = await client('POST', url, body);
      if (response.status >= 300) throw new Error(`POST ${url} answered ${response.status}: ${JSON.stringify(response.json())}`);
      return response.json() as T;
    },
    async close() {
      await app.close();
      await runtime.close();
    },
  };
}
