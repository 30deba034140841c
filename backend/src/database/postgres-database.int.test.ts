import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, drivers, type TestDatabase } from '../../test/test-database.ts';
import { AppError } from '../errors.ts';

/** One conformance suite for the database service, run against both drivers. */
describe.each(drivers)('PostgresDatabase on %s', (driver) => {
  let test: TestDatabase;

  beforeAll(async () => {
    // Short enough for the busy case below, long enough to open a connection on a loaded machine.
    test = await createTestDatabase(driver, { poolMax: 2, poolTimeoutMs: 800 });
  });
  afterAll(() => test.drop());

  it('reports its driver and answers a ping', async () => {
    expect(test.database.driver).toBe(driver);
    expect(await test.database.ping()).toBe(true);
  });

  it('commits a transaction as a whole, and rolls one back as a whole', async () => {
    const { database } = test;
    await database.transaction(async (tx) => {
      await tx.insertInto('users').values({ email: 'a@example.test', name: 'A' }).execute();
      await tx.insertInto('users').values({ email: 'b@example.test', name: 'B' }).execute();
    });
    await expect(
      database.transaction(async (tx) => {
        await tx.insertInto('users').values({ email: 'c@example.test', name: 'C' }).execute();
        await tx.insertInto('users').values({ email: 'A@example.test', name: 'duplicate email' }).execute();
      }),
    ).rejects.toThrow(/users_email_key/);
    const emails = (await database.db.selectFrom('users').select('email').orderBy('email').execute()).map((r) => r.email);
    expect(emails).toEqual(['a@example.test', 'b@example.test']);
  });

  it('delivers a notification once, after its transaction commits, and never for a rollback', async () => {
    const { database } = test;
    const received: string[] = [];
    const unlisten = await database.listen('agentry_test', (payload) => received.push(payload));
    try {
      await database
        .transaction(async (tx) => {
          await database.notify('agentry_test', 'rolled-back', tx);
          throw new Error('roll back');
        })
        .catch(() => undefined);
      await database.transaction(async (tx) => {
        await database.notify('agentry_test', 'committed', tx);
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(received).toEqual([]); // not before the commit
      });
      await database.notify('agentry_test', 'autocommit');
      await expect.poll(() => received, { timeout: 2000 }).toEqual(['committed', 'autocommit']);
    } finally {
      await unlisten();
    }
    await database.notify('agentry_test', 'after-unlisten');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toEqual(['committed', 'autocommit']);
  });

  it('answers DATABASE_BUSY quickly when the pool is exhausted, instead of hanging', async () => {
    const { database } = test;
    const holders = Array.from({ length: database.poolStats().max }, () => database.db.connection()).map(
      (c) => new Promise<void>((release) => void c.execute(() => new Promise<void>((done) => setTimeout(() => (done(), release()), 1500)))),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    const error = await sql`select 1`.execute(database.db).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('DATABASE_BUSY');
    expect((error as AppError).status).toBe(503);
    expect(Date.now() - started).toBeLessThan(1400);
    await Promise.all(holders);
    expect(await database.ping()).toBe(true); // and recovers once connections free up
  });
});

describe('the embedded database', () => {
  it('has pgvector, reached through the same pg code path as a server', async () => {
    const test = await createTestDatabase('pglite');
    try {
      const { rows } = await sql<{ distance: number }>`select '[1,0,0]'::vector <=> '[0,1,0]'::vector as distance`.execute(
        test.database.db,
      );
      expect(rows[0]?.distance).toBeCloseTo(1);
    } finally {
      await test.drop();
    }
  });
});
