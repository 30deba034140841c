import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, drivers, type TestDatabase } from '../../test/test-database.ts';
import { PostgresDatabase } from '../database/index.ts';
import { createEventSystem, type EventSystem } from './event-system.ts';
import type { StoredEvent } from './event-types.ts';

const refreshed = (toolCount: number) => ({
  type: 'integration.refreshed' as const,
  data: { integrationId: 'i1', provider: 'github', toolCount },
});
const pool = { max: 5, timeoutMs: 5000, statementTimeoutMs: 30_000 };

describe.each(drivers)('the event log and bus on %s', (driver) => {
  let test: TestDatabase;
  let events: EventSystem;
  let userId: string;
  const heard: StoredEvent[] = [];

  beforeAll(async () => {
    test = await createTestDatabase(driver);
    events = createEventSystem(test.database, { retentionDays: 7, onError: (error) => heard.push({ error } as never) });
    await events.start();
    events.bus.subscribe((event) => heard.push(event));
    userId = (
      await test.database.db.insertInto('users').values({ email: 'e@example.test', name: 'E' }).returning('id').executeTakeFirstOrThrow()
    ).id;
  });
  afterAll(async () => {
    await events.stop();
    await test.drop();
  });

  const publish = (toolCount: number, topic = 'integrations') =>
    test.database.transaction((tx) => events.bus.publish(tx, { userId, topic, event: refreshed(toolCount) }));

  it('delivers an event once its transaction commits, and never one that rolled back', async () => {
    heard.length = 0;
    await test.database
      .transaction(async (tx) => {
        await events.bus.publish(tx, { userId, topic: 'integrations', event: refreshed(-1 + 1) });
        throw new Error('roll back');
      })
      .catch(() => undefined);
    const [id] = await publish(7);
    await expect.poll(() => heard.map((e) => e.id)).toEqual([id]);
    expect(heard[0]).toMatchObject({ id, userId, topic: 'integrations', type: 'integration.refreshed', data: { toolCount: 7 } });
    expect(await events.store.replay(userId, ['integrations'], 0, 10)).toHaveLength(1);
  });

  it('appends several events of one transaction in one insert, in the order given', async () => {
    heard.length = 0;
    const ids = await test.database.transaction((tx) =>
      events.bus.publish(tx, ...[3, 1, 2].map((toolCount) => ({ userId, topic: 'integrations', event: refreshed(toolCount) }))),
    );
    expect(ids).toHaveLength(3);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    await expect.poll(() => heard.map((e) => (e.data as { toolCount: number }).toolCount)).toEqual([3, 1, 2]);
    expect(heard.map((e) => e.id)).toEqual(ids);
  });

  it('refuses an event whose data does not match its type, writing nothing', async () => {
    const before = await events.store.latestId();
    await expect(
      test.database.transaction((tx) =>
        events.bus.publish(tx, {
          userId,
          topic: 'integrations',
          event: { type: 'integration.refreshed', data: { integrationId: 'i1' } } as never,
        }),
      ),
    ).rejects.toThrow();
    expect(await events.store.latestId()).toBe(before);
  });

  it('hands out ids in commit order: a transaction that appends second cannot commit before the first', async () => {
    heard.length = 0;
    const other = driver === 'postgres' ? await PostgresDatabase.open(test.target, { pool }) : test.database;
    try {
      let releaseFirst!: () => void;
      const firstHolding = new Promise<void>((resolve) => (releaseFirst = resolve));
      let firstId = 0;
      let appended!: () => void;
      const firstAppended = new Promise<void>((resolve) => (appended = resolve));
      const first = test.database.transaction(async (tx) => {
        firstId = (await events.bus.publish(tx, { userId, topic: 'integrations', event: refreshed(1) }))[0]!;
        appended();
        await firstHolding;
      });
      await firstAppended;
      let secondDone = false;
      const second = other
        .transaction((tx) => events.store.append(tx, [{ userId, topic: 'integrations', event: refreshed(2) }]))
        .then(([id]) => {
          secondDone = true;
          return id;
        });
      try {
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(secondDone).toBe(false); // it waits for the first to commit
        // On a server, another connection sees nothing yet. (The embedded database runs one
        // transaction at a time: other connections wait for it, which is the same guarantee.)
        if (driver === 'postgres')
          expect(await other.db.selectFrom('events').select('id').where('id', '>=', String(firstId)).execute()).toEqual([]);
      } finally {
        releaseFirst();
      }
      await first;
      const secondId = await second;
      expect(secondId).toBeGreaterThan(firstId);
      const seen = (await events.store.readAfter(firstId - 1, 10)).map((e) => e.id);
      expect(seen).toEqual([firstId, secondId]);
    } finally {
      if (other !== test.database) await other.close();
    }
  });

  it('answers history by topic, type, time and id, and prunes old events and the deltas of completed messages', async () => {
    const sessionTopic = 'session:s1';
    const message = (type: 'message.delta' | 'message.completed', text: string) =>
      test.database.transaction((tx) =>
        events.bus.publish(tx, {
          userId,
          topic: sessionTopic,
          event:
            type === 'message.delta'
              ? { type, data: { sessionId: 's1', messageId: 'm1', offset: 0, text } }
              : { type, data: { sessionId: 's1', messageId: 'm1', role: 'assistant', text } },
        }),
      );
    await message('message.delta', 'Hel');
    await message('message.completed', 'Hello');
    const deltas = await events.store.history({ userId, topic: sessionTopic, types: ['message.delta'], limit: 10 });
    expect(deltas.map((e) => e.data)).toEqual([{ sessionId: 's1', messageId: 'm1', offset: 0, text: 'Hel' }]);
    const page = await events.store.history({ userId, limit: 2 });
    const next = await events.store.history({ userId, limit: 100, after: page.at(-1)!.id });
    expect(next.every((e) => e.id > page.at(-1)!.id)).toBe(true);
    expect(await events.store.history({ userId, limit: 10, since: new Date(Date.now() + 60_000) })).toEqual([]);

    await sql`update events set at = now() - interval '30 days' where type = 'integration.refreshed'`.execute(test.database.db);
    const pruned = await events.store.prune(new Date(Date.now() - 7 * 86_400_000));
    expect(pruned).toBeGreaterThan(1);
    const left = await events.store.history({ userId, limit: 100 });
    expect(left.map((e) => e.type)).toEqual(['message.completed']);
  });
});

describe('several instances on one PostgreSQL', () => {
  let test: TestDatabase;
  let second: PostgresDatabase;
  let a: EventSystem;
  let b: EventSystem;
  let userId: string;

  beforeAll(async () => {
    test = await createTestDatabase('postgres');
    second = await PostgresDatabase.open(test.target, { pool });
    a = createEventSystem(test.database, { retentionDays: 7, onError: () => undefined });
    b = createEventSystem(second, { retentionDays: 7, onError: () => undefined });
    await a.start();
    await b.start();
    userId = (
      await test.database.db.insertInto('users').values({ email: 'm@example.test', name: 'M' }).returning('id').executeTakeFirstOrThrow()
    ).id;
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
    await second.close();
    await test.drop();
  });

  it('an event committed on one instance reaches the other', async () => {
    const onB: number[] = [];
    b.bus.subscribe((event) => onB.push(event.id));
    const [id] = await test.database.transaction((tx) => a.bus.publish(tx, { userId, topic: 'integrations', event: refreshed(1) }));
    await expect.poll(() => onB).toEqual([id]);
  });

  it('resumes with no gap after its listening connection is killed mid-stream', async () => {
    const onB: number[] = [];
    b.bus.subscribe((event) => onB.push(event.id));
    const published: number[] = [];
    const producer = (async () => {
      for (let i = 0; i < 40; i++) {
        published.push(
          ...(await test.database.transaction((tx) => a.bus.publish(tx, { userId, topic: 'integrations', event: refreshed(i) }))),
        );
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { rows } = await sql<{ killed: boolean }>`
      select pg_terminate_backend(pid) as killed from pg_stat_activity
      where application_name = 'agentry:listener' and datname = current_database()`.execute(test.database.db);
    expect(rows.filter((r) => r.killed)).toHaveLength(2); // both instances' listeners
    await producer;
    await expect.poll(() => onB, { timeout: 5000 }).toEqual(published);
  });
});
