import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, drivers, type TestDatabase } from '../../test/test-database.ts';
import { StatementNames } from './prepared-statements.ts';

/**
 * Statements are parsed once per connection (see prepared-statements.ts), and a table changing
 * under a prepared `select *` costs no caller an error outside a transaction.
 */
describe.each(drivers)('prepared statements on %s', (driver) => {
  let test: TestDatabase;
  beforeAll(async () => {
    // One connection, so every statement below runs on the connection whose statements it reads.
    test = await createTestDatabase(driver, { migrate: false, poolMax: 1 });
    await sql`create table notes (id int primary key, body text)`.execute(test.database.db);
    await sql`insert into notes values (1, 'first'), (2, 'second')`.execute(test.database.db);
  });
  afterAll(() => test.drop());

  const preparedCount = async (text: string) => {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements where statement = ${text}`.execute(
      test.database.db,
    );
    return rows[0]!.n;
  };

  it('parses a repeated statement once on a connection and answers it with each execution’s values', async () => {
    const { db } = test.database;
    const read = (id: number) =>
      db
        .selectFrom('notes' as never)
        .select('body' as never)
        .where('id' as never, '=', id as never);
    const text = read(1).compile().sql;
    expect(await read(1).executeTakeFirst()).toEqual({ body: 'first' });
    expect(await read(2).executeTakeFirst()).toEqual({ body: 'second' });
    expect(await preparedCount(text)).toBe(1);
  });

  it('answers a prepared select * after its table gains a column, outside a transaction', async () => {
    const { db } = test.database;
    const all = (id: number) =>
      db
        .selectFrom('notes' as never)
        .selectAll()
        .where('id' as never, '=', id as never);
    expect(await all(1).executeTakeFirst()).toEqual({ id: 1, body: 'first' });
    await sql`alter table notes add column tag text default 'new'`.execute(db);
    expect(await all(2).executeTakeFirst()).toEqual({ id: 2, body: 'second', tag: 'new' });
  });

  it('fails only the transaction that meets a changed table, and the next one succeeds', async () => {
    const { database } = test;
    const all = (id: number) =>
      database.db
        .selectFrom('notes' as never)
        .selectAll()
        .where('id' as never, '>=', id as never);
    expect(await all(1).execute()).toHaveLength(2);
    await sql`alter table notes add column rank int default 0`.execute(database.db);
    await expect(
      database.transaction((tx) =>
        tx
          .selectFrom('notes' as never)
          .selectAll()
          .where('id' as never, '>=', 1 as never)
          .execute(),
      ),
    ).rejects.toThrow(/cached plan must not change result type/);
    const rows = await database.transaction((tx) =>
      tx
        .selectFrom('notes' as never)
        .selectAll()
        .where('id' as never, '>=', 1 as never)
        .execute(),
    );
    expect(rows).toEqual([
      { id: 1, body: 'first', tag: 'new', rank: 0 },
      { id: 2, body: 'second', tag: 'new', rank: 0 },
    ]);
  });
});

describe('statement names', () => {
  it('names texts up to the cap and leaves longer ones unnamed', () => {
    const names = new StatementNames({ cap: 2, maxLength: 20 });
    expect(names.numberOf('select $1')).toBe(1);
    expect(names.numberOf('select $1 + 1')).toBe(2);
    expect(names.numberOf('select $1')).toBe(1);
    expect(names.numberOf('select $1 + 2')).toBeUndefined();
    expect(new StatementNames({ cap: 5, maxLength: 20 }).numberOf(`select ${'x'.repeat(30)}`)).toBeUndefined();
  });
});
