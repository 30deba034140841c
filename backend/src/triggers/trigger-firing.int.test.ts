import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresDatabase } from '../database/index.ts';
import { CredentialVault } from '../integrations/index.ts';
import { parseKeyring, resolveSecretKey } from '../secret-key.ts';
import { createTestApp, type TestApp } from '../../test/test-app.ts';
import { createTriggerSystem, type TriggerSystem } from './trigger-system.ts';
import type { RunLauncher } from './run-launcher.ts';
import type { TriggerInput } from './trigger-definition.ts';

/**
 * The scheduler and the firing starter with an injected clock and a launcher that makes the run's
 * session but no turn: a run then stays "going" until the test ends it, which is what the overlap,
 * in-flight and missed-run cases need. The real launcher's end-to-end run is in trigger-routes.
 */
const user = { id: '', name: 'User', timezone: 'UTC' };
const research = (name: string, extra: Partial<TriggerInput> = {}): TriggerInput => ({
  name,
  kind: 'schedule',
  templateId: 'research-summary',
  variables: { topic: 'tides' },
  schedule: { cron: '0 * * * *', timezone: 'UTC' },
  ...extra,
});

/** `hold` lets a test keep a launch from finishing (a slow session start). */
function system(
  app: TestApp,
  clock: { now: number },
  database = app.runtime.database,
  maxInFlight = 10,
  hold: (launchIndex: number) => Promise<void> = async () => undefined,
) {
  const launched: string[] = [];
  const { sessions, users } = app.runtime;
  const launcher: RunLauncher = {
    async launch(request) {
      launched.push(request.firingId);
      await hold(launched.length - 1);
      const owner = await users.get(request.userId);
      const { session } = await sessions.create(
        { id: owner.id, name: owner.name, timezone: owner.timezone },
        { templateId: request.templateId, variables: request.variables, triggerFiringId: request.firingId },
      );
      return { sessionId: session.id };
    },
    answer: async () => undefined,
  };
  const triggers: TriggerSystem = createTriggerSystem({
    ...app.runtime,
    database,
    bus: app.runtime.events.bus,
    vault: new CredentialVault(parseKeyring(resolveSecretKey(app.config))),
    settings: { ...app.config.triggers, maxInFlight },
    instanceId: `test-${Math.random()}`,
    reach: () => undefined,
    now: () => clock.now,
    launcher,
    onError: (error) => {
      throw error;
    },
  });
  return { ...triggers, launched };
}

/**
 * Fires a trigger `times` times by hand, a few milliseconds apart: the embedded database's clock
 * counts milliseconds, and firings of one instant have no order among themselves.
 */
async function fireInOrder(triggers: { fireNow(userId: string, id: string): Promise<unknown> }, userId: string, id: string, times: number) {
  for (let i = 0; i < times; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 3));
    await triggers.fireNow(userId, id);
  }
}

async function firings(app: TestApp, triggerId: string) {
  return app.runtime.database.db
    .selectFrom('trigger_firings')
    .selectAll()
    .where('trigger_id', '=', triggerId)
    .orderBy('scheduled_at')
    .orderBy('fired_at')
    .execute();
}

describe('trigger firing (PGlite, injected clock)', () => {
  let app: TestApp;
  const clock = { now: Date.parse('2025-01-01T00:00:00Z') };
  beforeAll(async () => {
    app = await createTestApp('pglite', {}, { background: false, now: () => clock.now });
    user.id = app.userId;
  });
  afterAll(() => app.close());

  for (const zone of [
    // 01:30 happens twice on London's autumn day, and not at all on its spring day.
    {
      timezone: 'Europe/London',
      cron: '30 1 * * *',
      from: '2025-10-25T12:00:00Z',
      expected: ['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z'],
    },
    {
      timezone: 'Europe/London',
      cron: '30 1 * * *',
      from: '2025-03-29T12:00:00Z',
      expected: ['2025-03-30T01:00:00.000Z', '2025-03-31T00:30:00.000Z'],
    },
    // 02:30 does not happen on New York's spring day; 01:30 happens twice on its autumn day.
    {
      timezone: 'America/New_York',
      cron: '30 2 * * *',
      from: '2025-03-08T12:00:00Z',
      expected: ['2025-03-09T07:00:00.000Z', '2025-03-10T06:30:00.000Z'],
    },
    {
      timezone: 'America/New_York',
      cron: '30 1 * * *',
      from: '2025-11-01T12:00:00Z',
      expected: ['2025-11-02T05:30:00.000Z', '2025-11-03T06:30:00.000Z'],
    },
  ]) {
    it(`fires "${zone.cron}" in ${zone.timezone} once a day across the change after ${zone.from.slice(0, 10)}`, async () => {
      clock.now = Date.parse(zone.from);
      const { triggers, worker } = system(app, clock);
      const { trigger } = await triggers.create(
        user,
        research(`dst ${zone.timezone}`, { schedule: { cron: zone.cron, timezone: zone.timezone } }),
      );
      expect(trigger.upcoming.slice(0, 2)).toEqual(zone.expected);
      // Every half hour for two days, 30 s past: each instant is seen on time, the repeated hour twice.
      for (let step = 0; step < 96; step++) {
        clock.now = Date.parse(zone.from) + step * 1_800_000 + 30_000;
        await worker.tick();
      }
      const fired = await firings(app, trigger.id);
      expect(fired.map((f) => f.scheduled_at!.toISOString())).toEqual(zone.expected);
      await triggers.delete(app.userId, trigger.id);
    });
  }

  it('applies each missed-run policy after the server was down for five hours', async () => {
    clock.now = Date.parse('2025-02-01T10:10:00Z');
    const { triggers, worker } = system(app, clock);
    const made = await Promise.all(
      (['skip', 'run_once', 'catch_up'] as const).map((missedRuns) =>
        triggers.create(user, research(`missed ${missedRuns}`, { missedRuns, catchUpWindowSeconds: 3 * 3600, overlap: 'allow' })),
      ),
    );
    clock.now = Date.parse('2025-02-01T15:10:00Z');
    await worker.tick();
    const fired = await Promise.all(made.map(({ trigger }) => firings(app, trigger.id)));
    expect(fired.map((list) => list.map((f) => f.scheduled_at!.toISOString().slice(11, 16)))).toEqual([
      [],
      ['15:00'],
      ['13:00', '14:00', '15:00'],
    ]);
    for (const { trigger } of made) expect((await triggers.get(app.userId, trigger.id)).nextFireAt).toBe('2025-02-01T16:00:00.000Z');
    for (const { trigger } of made) await triggers.delete(app.userId, trigger.id);
  });

  it('skips, queues one, or allows a run while the previous one is going', async () => {
    const { triggers, worker, launched } = system(app, clock);
    const outcome = async (id: string) => (await firings(app, id)).map((f) => `${f.status}/${f.outcome ?? '-'}`);
    const made: Record<string, string> = {};
    for (const overlap of ['skip', 'queue_one', 'allow'] as const) {
      const { trigger } = await triggers.create(user, research(`overlap ${overlap}`, { overlap, missedRuns: 'skip' }));
      made[overlap] = trigger.id;
      await fireInOrder(triggers, app.userId, trigger.id, 3);
    }
    await worker.tick();
    expect(await outcome(made.skip!)).toEqual(['started/-', 'skipped/skipped', 'skipped/skipped']);
    expect(await outcome(made.queue_one!)).toEqual(['started/-', 'queued/-', 'skipped/skipped']);
    expect(await outcome(made.allow!)).toEqual(['started/-', 'started/-', 'started/-']);
    expect(launched).toHaveLength(5);
    // The queued run starts once the one it waited for ends.
    await app.runtime.database.db
      .updateTable('trigger_firings')
      .set({ outcome: 'completed' })
      .where('trigger_id', '=', made.queue_one!)
      .where('status', '=', 'started')
      .execute();
    await worker.tick();
    expect(await outcome(made.queue_one!)).toEqual(['started/completed', 'started/-', 'skipped/skipped']);
    expect(launched).toHaveLength(6);
    await app.runtime.database.db.deleteFrom('triggers').execute();
  });

  it("holds a user's runs past the in-flight limit until one ends", async () => {
    const { triggers, worker, launched } = system(app, clock, app.runtime.database, 2);
    const { trigger } = await triggers.create(user, research('limited', { overlap: 'allow' }));
    await fireInOrder(triggers, app.userId, trigger.id, 3);
    await worker.tick();
    expect((await firings(app, trigger.id)).map((f) => f.status)).toEqual(['started', 'started', 'pending']);
    await app.runtime.database.db.updateTable('trigger_firings').set({ outcome: 'completed' }).where('status', '=', 'started').execute();
    await worker.tick();
    expect((await firings(app, trigger.id)).map((f) => f.status)).toEqual(['started', 'started', 'started']);
    expect(launched).toHaveLength(3);
    await triggers.delete(app.userId, trigger.id);
  });

  it('pauses a trigger that failed its limit of runs in a row, and tells the user', async () => {
    const { triggers, worker, notifications } = system(app, clock);
    // Email triage needs Gmail, which this user has not connected: each run fails to start.
    const { trigger } = await triggers.create(
      user,
      research('failing', { templateId: 'email-triage', variables: {}, pauseAfterFailures: 2, overlap: 'allow' }),
    );
    await triggers.fireNow(app.userId, trigger.id);
    await worker.tick();
    expect((await triggers.get(app.userId, trigger.id)).status).toBe('active');
    await triggers.fireNow(app.userId, trigger.id);
    await worker.tick();
    const paused = await triggers.get(app.userId, trigger.id);
    expect(paused).toMatchObject({ status: 'paused', consecutiveFailures: 2 });
    const fired = await firings(app, trigger.id);
    expect(fired.map((f) => [f.status, f.error?.code])).toEqual([
      ['failed', 'INTEGRATIONS_MISSING'],
      ['failed', 'INTEGRATIONS_MISSING'],
    ]);
    const { notifications: told } = await notifications.list(app.userId, { limit: 10 });
    expect(told.map((n) => n.kind)).toEqual(['trigger_paused', 'run_failed', 'run_failed']);
    // A paused trigger's schedule fires no more.
    clock.now += 3 * 3_600_000;
    await worker.tick();
    expect(await firings(app, trigger.id)).toHaveLength(2);
    await triggers.delete(app.userId, trigger.id);
  });
});

describe('trigger firing on PostgreSQL with two instances', () => {
  let app: TestApp;
  let second: PostgresDatabase;
  const clock = { now: Date.parse('2025-06-01T07:59:00Z') };
  beforeAll(async () => {
    app = await createTestApp('postgres', {}, { background: false, now: () => clock.now });
    user.id = app.userId;
    second = await PostgresDatabase.open(app.target, { pool: { max: 5, timeoutMs: 3000, statementTimeoutMs: 30_000 }, purpose: 'test' });
  });
  afterAll(async () => {
    await second.close();
    await app.close();
  });

  it('fires each of 20 schedules due at once exactly once, and starts each run once', async () => {
    const a = system(app, clock, app.runtime.database, 100);
    const b = system(app, clock, second, 100);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++)
      ids.push((await a.triggers.create(user, research(`daily ${i}`, { schedule: { cron: '0 8 * * *', timezone: 'UTC' } }))).trigger.id);
    clock.now = Date.parse('2025-06-01T08:00:01Z');
    await Promise.all([a.worker.tick(), b.worker.tick(), a.worker.tick(), b.worker.tick()]);
    const rows = await app.runtime.database.db.selectFrom('trigger_firings').select(['trigger_id', 'status', 'session_id']).execute();
    expect(rows).toHaveLength(20);
    expect(new Set(rows.map((r) => r.trigger_id)).size).toBe(20);
    expect(rows.every((r) => r.status === 'started' && r.session_id)).toBe(true);
    expect(new Set([...a.launched, ...b.launched]).size).toBe(20);
    expect(a.launched.length + b.launched.length).toBe(20);
    const sessions = await app.runtime.database.db
      .selectFrom('agent_sessions')
      .select(['unattended'])
      .where('trigger_firing_id', 'is not', null)
      .execute();
    expect(sessions).toHaveLength(20);
    expect(sessions.every((s) => s.unattended)).toBe(true);
  });

  it('keeps starting runs while one session start is slow', async () => {
    let release = () => {};
    const slow = new Promise<void>((resolve) => (release = resolve));
    const a = system(app, clock, app.runtime.database, 100, (index) => (index === 0 ? slow : Promise.resolve()));
    const { trigger } = await a.triggers.create(user, research('busy', { overlap: 'allow' }));
    for (let i = 0; i < 20; i++) await a.triggers.fireNow(app.userId, trigger.id);
    const tick = a.worker.tick();
    const started = async () => (await firings(app, trigger.id)).filter((f) => f.status === 'started').length;
    // The other 19 start while the first is held (not only those claimed beside it).
    await expect.poll(started, { timeout: 10_000, interval: 50 }).toBe(19);
    release();
    await tick;
    expect(await started()).toBe(20);
    expect(a.launched).toHaveLength(20);
    await a.triggers.delete(app.userId, trigger.id);
  });

  it("holds a user's in-flight limit across two instances starting at once", async () => {
    // The runs of the cases before have ended.
    await app.runtime.database.db.updateTable('trigger_firings').set({ outcome: 'completed' }).where('outcome', 'is', null).execute();
    const a = system(app, clock, app.runtime.database, 3);
    const b = system(app, clock, second, 3);
    const { trigger } = await a.triggers.create(user, research('limited twice', { overlap: 'allow' }));
    for (let i = 0; i < 10; i++) await a.triggers.fireNow(app.userId, trigger.id);
    await Promise.all([a.worker.tick(), b.worker.tick()]);
    const statuses = (await firings(app, trigger.id)).map((f) => f.status);
    expect(statuses.filter((s) => s === 'started')).toHaveLength(3);
    expect(statuses.filter((s) => s === 'pending')).toHaveLength(7);
    await a.triggers.delete(app.userId, trigger.id);
  });
});
