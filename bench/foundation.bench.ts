import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'kysely';
import { startPostgresCluster } from '../backend/test/postgres-cluster.ts';
import { loadConfig } from '../backend/src/config.ts';
import { MigrationRunner, PostgresDatabase, type DatabaseTarget } from '../backend/src/database/index.ts';
import { createRuntime } from '../backend/src/runtime.ts';
import { buildApp } from '../backend/src/server/index.ts';
import { createDatabase, measure, type Bench, type BenchResult } from './harness.ts';

/** A query that keeps PostgreSQL busy for about two seconds on this machine's class of CPU. */
const heavyQuery = 'select count(*) from generate_series(1, 7000000)';

async function eventLoopDelayDuring(name: string, driver: string, work: () => Promise<unknown>): Promise<BenchResult> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  // The monitor records a delay when its timer fires late; start it ticking before the work.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const started = performance.now();
  await work();
  const elapsed = performance.now() - started;
  // Let the monitor's timer fire once more, so a loop blocked until now is recorded too.
  await new Promise((resolve) => setTimeout(resolve, 20));
  histogram.disable();
  const ms = (ns: number) => ns / 1e6;
  return {
    name,
    driver,
    n: 1,
    p50: ms(histogram.percentile(50)),
    p95: ms(histogram.percentile(95)),
    p99: ms(histogram.percentile(99)),
    throughput: 0,
    target: 'p99 ≤ 50 ms',
    // One stall is one sample among many, so p99 can hide it: the longest stall is the honest figure.
    note: `query took ${(elapsed / 1000).toFixed(1)} s; max delay ${ms(histogram.max).toFixed(0)} ms`,
  };
}

async function benchDriver(target: DatabaseTarget, dataDir: string, record: (r: BenchResult) => void): Promise<void> {
  const driver = target.driver;
  const database = await PostgresDatabase.open(target, { pool: { max: 10, timeoutMs: 5000, statementTimeoutMs: 0 }, purpose: 'bench' });
  await new MigrationRunner(database.db).up();
  const config = loadConfig({
    AGENTRY_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_DEFAULT: '1000000',
    ...(driver === 'postgres'
      ? { DATABASE_URL: (target as { url: string }).url, AGENTRY_SECRET_KEY: Buffer.alloc(32, 5).toString('base64') }
      : {}),
  });
  const runtime = await createRuntime(config, database, { warn: () => undefined, info: () => undefined });
  const app = await buildApp(runtime, { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const { user, token } = await runtime.users.create({ email: 'bench@example.test' }, { userId: null, ip: null });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/me`;
    const headers = { authorization: `Bearer ${token}` };
    const getMe = async () => {
      const response = await fetch(url, { headers });
      if (response.status !== 200) throw new Error(`GET /v1/me answered ${response.status}`);
      await response.arrayBuffer();
    };
    record(await measure({ name: 'GET /v1/me (HTTP, keep-alive)', driver }, getMe, { n: 2000 }));
    record(await measure({ name: 'GET /v1/me, 8 concurrent', driver }, getMe, { n: 4000, concurrency: 8 }));
    record(
      await measure(
        { name: 'one-row query (by primary key)', driver },
        () => database.db.selectFrom('users').select(['id', 'email']).where('id', '=', user.id).executeTakeFirstOrThrow(),
        { n: 2000 },
      ),
    );
    record(await eventLoopDelayDuring('event-loop delay during a long query', driver, () => sql.raw(heavyQuery).execute(database.db)));
  } finally {
    await app.close();
    await runtime.close();
  }
}

const bench: Bench = async ({ record }) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-bench-'));
  const cluster = await startPostgresCluster();
  try {
    await benchDriver({ driver: 'pglite', dataDir: path.join(dataDir, 'pglite') }, dataDir, record);

    await benchDriver({ driver: 'postgres', url: await createDatabase(cluster.url, 'agentry_bench') }, dataDir, record);

    // For contrast: the same query on PGlite in the server's own thread, which our design avoids.
    const inThread = await PGlite.create();
    record(await eventLoopDelayDuring('event-loop delay, PGlite in-thread (contrast)', 'pglite', () => inThread.query(heavyQuery)));
    await inThread.close();
  } finally {
    await cluster.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
};

export default bench;
