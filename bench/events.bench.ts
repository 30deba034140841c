import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type ServerProcess } from '../backend/test/server-process.ts';
import { startPostgresCluster } from '../backend/test/postgres-cluster.ts';
import { loadConfig } from '../backend/src/config.ts';
import { MigrationRunner, PostgresDatabase, type DatabaseTarget } from '../backend/src/database/index.ts';
import { createRuntime, type Runtime } from '../backend/src/runtime.ts';
import { buildApp } from '../backend/src/server/index.ts';
import { createDatabase, percentile, type Bench, type BenchResult } from './harness.ts';

const now = () => performance.timeOrigin + performance.now();
const wsEnv = { WS_MAX_CONNECTIONS_PER_USER: '10000', LOG_LEVEL: 'silent', RATE_LIMIT_DEFAULT: '1000000' };

interface Instance {
  runtime: Runtime;
  url: string;
  close(): Promise<void>;
}

async function startInstance(target: DatabaseTarget, dataDir: string, secretKey: string): Promise<Instance> {
  const database = await PostgresDatabase.open(target, { pool: { max: 10, timeoutMs: 5000, statementTimeoutMs: 0 }, purpose: 'bench' });
  await new MigrationRunner(database.db).up();
  const config = loadConfig({
    ...wsEnv,
    AGENTRY_DATA_DIR: dataDir,
    AGENTRY_SECRET_KEY: secretKey,
    ...(target.driver === 'postgres' ? { DATABASE_URL: target.url } : {}),
  });
  const runtime = await createRuntime(config, database, { warn: () => undefined, info: () => undefined });
  const app = await buildApp(runtime, { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    runtime,
    url: `ws://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/ws`,
    async close() {
      await app.close();
      await runtime.close();
    },
  };
}

function loadClient(urls: string[], token: string, count: number): Promise<ChildProcess> {
  const child = fork(new URL('./ws-load-client.ts', import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, LOAD_URLS: urls.join(','), LOAD_TOKEN: token, LOAD_COUNT: String(count) },
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal === null) process.stderr.write(`  the load client exited (${code ?? signal})\n`);
  });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`load client exited with ${code}`)));
  });
}

function report(child: ChildProcess): Promise<{ receipts: [number, number][]; closed: number }> {
  return new Promise((resolve, reject) => {
    child.on('message', (message: { type: string; receipts: [number, number][]; closed: number }) => {
      if (message.type !== 'receipts') return;
      child.kill();
      resolve(message);
    });
    if (child.exitCode !== null || child.signalCode !== null) return reject(new Error('the load client exited before reporting'));
    child.once('exit', (code, signal) => reject(new Error(`the load client exited (${code ?? signal}) before reporting`)));
    child.send({ type: 'report' });
  });
}

/**
 * Publishes `events` events at `perSecond` through `producer` to `clients` sockets spread over
 * `instances`, and reports commit-to-receipt latency over every delivery.
 */
async function deliveries(
  meta: { name: string; driver: string; target?: string },
  producer: Instance,
  instances: Instance[],
  userId: string,
  token: string,
  clients: number,
  perSecond: number,
  seconds: number,
): Promise<BenchResult> {
  process.stderr.write(`  ${meta.name} (${meta.driver}): connecting ${clients} clients …\n`);
  const child = await loadClient(
    instances.map((i) => i.url),
    token,
    clients,
  );
  process.stderr.write(`  publishing ${Math.round(perSecond * seconds)} events …\n`);
  const sentAt = new Map<number, number>();
  const total = Math.round(perSecond * seconds);
  const started = now();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const t0 = now();
    const [id] = await producer.runtime.database.transaction((tx) =>
      producer.runtime.events.bus.publish(tx, {
        userId,
        topic: 'integrations',
        event: { type: 'integration.refreshed', data: { integrationId: 'bench', provider: 'bench', toolCount: i } },
      }),
    );
    sentAt.set(id!, t0);
  }
  process.stderr.write(`  published in ${((now() - started) / 1000).toFixed(1)} s; collecting receipts …\n`);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // let the last deliveries land
  const { receipts, closed } = await report(child);
  const latencies = receipts.filter(([id]) => sentAt.has(id)).map(([id, at]) => at - sentAt.get(id)!);
  latencies.sort((a, b) => a - b);
  const expected = total * clients;
  return {
    ...meta,
    n: latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    throughput: latencies.length / seconds,
    note: `${clients} clients, ${perSecond} events/s${latencies.length < expected ? `, ${expected - latencies.length} lost` : ''}${closed ? `, ${closed} closed` : ''}`,
  };
}

async function memoryPerIdleConnection(instance: Instance, token: string, driver: string): Promise<BenchResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const child = await loadClient([instance.url], token, 1000);
  gc?.();
  const after = process.memoryUsage();
  child.kill();
  const kib = (bytes: number) => (bytes / 1000 / 1024).toFixed(1);
  return {
    name: 'memory per idle connection',
    driver,
    n: 1000,
    p50: Number.NaN,
    p95: Number.NaN,
    p99: Number.NaN,
    throughput: 0,
    // Heap after a full collection; RSS moves in allocator-sized steps and says little at this scale.
    note: `heap ${kib(after.heapUsed - before.heapUsed)} KiB per connection${gc ? '' : ' (no --expose-gc: noisy)'}`,
  };
}

async function committedPerSecond(instance: Instance, userId: string, driver: string, concurrency: number): Promise<BenchResult> {
  const seconds = 3;
  let count = 0;
  const deadline = now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (now() < deadline) {
        await instance.runtime.database.transaction((tx) =>
          instance.runtime.events.bus.publish(tx, {
            userId,
            topic: 'integrations',
            event: { type: 'integration.refreshed', data: { integrationId: 'b', provider: 'b', toolCount: 0 } },
          }),
        );
        count++;
      }
    }),
  );
  return {
    name: `committed events/s, ${concurrency} producers`,
    driver,
    n: count,
    p50: Number.NaN,
    p95: Number.NaN,
    p99: Number.NaN,
    throughput: count / seconds,
    note: driver === 'postgres' ? 'NOTIFY on' : 'in-process bus',
  };
}

const bench: Bench = async ({ record }) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-bench-events-'));
  const secretKey = Buffer.alloc(32, 1).toString('base64');
  const cluster = await startPostgresCluster();
  const instances: Instance[] = [];
  let second: ServerProcess | undefined;
  try {
    // One instance on each database.
    for (const driver of ['pglite', 'postgres'] as const) {
      let target: DatabaseTarget;
      if (driver === 'pglite') target = { driver, dataDir: path.join(root, 'pglite') };
      else {
        target = { driver, url: await createDatabase(cluster.url, 'agentry_bench_events') };
      }
      const instance = await startInstance(target, root, secretKey);
      instances.push(instance);
      const { user, token } = await instance.runtime.users.create({ email: `bench-${driver}@example.test` }, { userId: null, ip: null });
      const target25 = 'p99 ≤ 25 ms at 1,000';
      record(await deliveries({ name: 'event delivery, 1 client', driver }, instance, [instance], user.id, token, 1, 200, 5));
      record(await deliveries({ name: 'event delivery, 100 clients', driver }, instance, [instance], user.id, token, 100, 20, 5));
      record(
        await deliveries(
          { name: 'event delivery, 1,000 clients', driver, target: target25 },
          instance,
          [instance],
          user.id,
          token,
          1000,
          2,
          10,
        ),
      );
      record(await committedPerSecond(instance, user.id, driver, 1));
      record(await committedPerSecond(instance, user.id, driver, 8));
      record(await memoryPerIdleConnection(instance, token, driver));

      if (driver === 'postgres') {
        // A second instance in its own process on the same database; clients split across both.
        second = await startServer({
          ...wsEnv,
          DATABASE_URL: target.driver === 'postgres' ? target.url : '',
          AGENTRY_SECRET_KEY: secretKey,
          LOG_LEVEL: 'info',
        });
        const other: Instance = {
          runtime: instance.runtime,
          url: `${second.url.replace('http', 'ws')}/v1/ws`,
          close: async () => undefined,
        };
        record(
          await deliveries(
            { name: 'event delivery, 1,000 clients on 2 instances', driver, target: 'p99 ≤ 40 ms' },
            instance,
            [instance, other],
            user.id,
            token,
            1000,
            2,
            10,
          ),
        );
      }
    }
  } finally {
    second?.child.kill('SIGTERM');
    if (second) await second.exited;
    for (const instance of instances) await instance.close();
    await cluster.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
};

export default bench;
