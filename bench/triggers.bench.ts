import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { startPostgresCluster } from '../backend/test/postgres-cluster.ts';
import { loadConfig } from '../backend/src/config.ts';
import { PostgresDatabase, type DatabaseTarget } from '../backend/src/database/index.ts';
import { createRuntime } from '../backend/src/runtime.ts';
import { startBenchApp } from './bench-app.ts';
import { createDatabase, load, measure, percentile, type Bench } from './harness.ts';

const users = 50;
const perUser = 20;
const settings = { TRIGGER_TICK_MS: '200', TRIGGER_MAX_IN_FLIGHT: String(perUser) };

/**
 * 1,000 schedules of 50 users, all due at the same second, on PostgreSQL with two instances (two
 * runtimes, each with its own pool and trigger worker, on one database): the fire delay (due
 * instant → firing row written), when the last session was created, and that nothing fired or
 * started twice. Then a webhook delivery's answer time.
 */
const bench: Bench = async ({ record }) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-bench-triggers-'));
  const cluster = await startPostgresCluster();
  try {
    const url = await createDatabase(cluster.url, 'agentry_bench_triggers');
    const target: DatabaseTarget = { driver: 'postgres', url };
    const first = await startBenchApp(target, dataDir, settings);
    const secondDb = await PostgresDatabase.open(target, { pool: { max: 10, timeoutMs: 10_000, statementTimeoutMs: 0 }, purpose: 'bench' });
    const config = loadConfig({
      AGENTRY_DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      DATABASE_URL: url,
      AGENTRY_SECRET_KEY: Buffer.alloc(32, 5).toString('base64'),
      ...settings,
    });
    const second = await createRuntime(config, secondDb, { warn: () => undefined, info: () => undefined });
    try {
      const { runtime } = first;
      for (let u = 0; u < users; u++) {
        const { user } = await runtime.users.create({ email: `user${u}@example.test`, name: `User ${u}` }, { userId: null, ip: null });
        for (let i = 0; i < perUser; i++) {
          await runtime.triggers.create(
            { id: user.id, name: user.name, timezone: 'UTC' },
            {
              name: `briefing ${i}`,
              kind: 'schedule',
              templateId: 'research-summary',
              variables: { topic: `tides ${i}` },
              schedule: { cron: '0 0 1 1 *', timezone: 'UTC' },
              overlap: 'allow',
            },
          );
        }
      }
      // Every schedule due at one whole second, a few seconds from now.
      const due = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3000);
      await runtime.database.db.updateTable('triggers').set({ next_fire_at: due }).where('kind', '=', 'schedule').execute();
      const loadBefore = load();
      let started = 0;
      for (let i = 0; i < 1200 && started < users * perUser; i++) {
        await sleep(100);
        const row = await runtime.database.db
          .selectFrom('trigger_firings')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('status', '=', 'started')
          .executeTakeFirstOrThrow();
        started = Number(row.n);
      }
      const delays = await runtime.database.db
        .selectFrom('trigger_firings')
        .select(sql<number>`extract(epoch from fired_at - scheduled_at) * 1000`.as('ms'))
        .where('source', '=', 'schedule')
        .execute();
      const sorted = delays.map((d) => Number(d.ms)).sort((a, b) => a - b);
      const [{ keys, firings, sessions, lastSession }] = (
        await sql<{ keys: string; firings: string; sessions: string; lastSession: Date | null }>`
          select (select count(distinct (trigger_id, fire_key)) from trigger_firings) as keys,
                 (select count(*) from trigger_firings) as firings,
                 (select count(*) from agent_sessions where trigger_firing_id is not null) as sessions,
                 (select max(started_at) from agent_sessions where trigger_firing_id is not null) as "lastSession"`.execute(
          runtime.database.db,
        )
      ).rows as [{ keys: string; firings: string; sessions: string; lastSession: Date | null }];
      const allWithin = lastSession ? (lastSession.getTime() - due.getTime()) / 1000 : Number.NaN;
      record({
        name: '1,000 schedules of 50 users due at one second, two instances: fire delay',
        driver: 'postgres',
        n: sorted.length,
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        throughput: 0,
        target: 'p95 ≤ 2 s; every session within 60 s',
        note: `delay = firing transaction's start − due instant; ${firings} firings (${keys} distinct keys), ${sessions} sessions, the last ${allWithin.toFixed(1)} s after the due second; load before ${loadBefore}, after ${load()}`,
      });

      // A webhook delivery: signature checked, firing row written, answered; its run starts after.
      const made = await first.post<{ trigger: { id: string }; secret: string }>('/v1/triggers', {
        name: 'On push',
        kind: 'webhook',
        templateId: 'research-summary',
        webhook: { mapping: { topic: '$.head_commit.message' } },
      });
      let n = 0;
      record(
        await measure(
          { name: 'webhook delivery answered (signed, deduped, firing written; HTTP)', driver: 'postgres', target: 'p95 ≤ 20 ms' },
          async () => {
            const body = JSON.stringify({ head_commit: { message: `commit ${n}` } });
            const response = await fetch(`${first.url}/v1/hooks/${made.trigger.id}`, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'x-github-delivery': `bench-${n++}`,
                'x-hub-signature-256': `sha256=${createHmac('sha256', made.secret).update(body).digest('hex')}`,
              },
              body,
            });
            if (response.status !== 202) throw new Error(`the delivery answered ${response.status}: ${await response.text()}`);
          },
          { n: 300, warmup: 20 },
        ),
      );
    } finally {
      await second.close();
      await first.close();
    }
  } finally {
    await cluster.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
};

export default bench;
