import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import { toAppError } from './error-handler.ts';

const dashes = '-'.repeat(36);
const cursor = (at: string, id: string) => Buffer.from(`${at}|${id}`).toString('base64url');

describe.each(drivers)('values the database cannot take answer 400, never 500, on %s', (driver) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(driver);
  });
  afterAll(() => t.close());

  const get = (url: string) => t.app.inject({ method: 'GET', url, headers: bearer(t.userToken) });
  const post = (url: string, payload: string) =>
    t.app.inject({ method: 'POST', url, headers: { ...bearer(t.userToken), 'content-type': 'application/json' }, payload });
  const expectError = (
    response: { statusCode: number; json(): { error: { code: string; message: string } } },
    status: number,
    code: string,
  ) => {
    expect(response.statusCode).toBe(status);
    expect(response.json().error.code).toBe(code);
  };
  const sessionCount = async () =>
    Number((await sql<{ n: string }>`select count(*) as n from agent_sessions`.execute(t.runtime.database.db)).rows[0]?.n);

  it('maps every PostgreSQL data exception (SQLSTATE class 22) this driver raises to 400 INVALID_INPUT', async () => {
    const failures = {
      '22P02': sql`select ${dashes}::uuid`,
      '22008': sql`select '0000-01-01T00:00:00Z'::timestamptz`,
      '22003': sql`select ${'2147483648'}::integer`,
      '22021': sql`select ${'a\0b'}::text`,
      '22007': sql`select ${'yesterday-ish'}::date`,
    };
    for (const [sqlstate, query] of Object.entries(failures)) {
      const error = await query.execute(t.runtime.database.db).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect((error as { code?: string } | undefined)?.code, sqlstate).toBe(sqlstate);
      const mapped = toAppError(error);
      expect(mapped.status, sqlstate).toBe(400);
      expect(mapped.code, sqlstate).toBe('INVALID_INPUT');
      expect(mapped.message).not.toContain(dashes); // the database's own words stay in the log
    }
    expect(toAppError(Object.assign(new Error('duplicate key'), { code: '23505' })).code).toBe('INTERNAL');
    expect(toAppError(Object.assign(new Error('not from the database'), { code: '22P02' })).code).toBe('INTERNAL');
  });

  it('answers a page cursor of 36 dashes, or with a date PostgreSQL cannot hold, with 400', async () => {
    expectError(await get(`/v1/sessions?cursor=${cursor('2024-01-01T00:00:00.000Z', dashes)}`), 400, 'VALIDATION_FAILED');
    const farPast = await get(`/v1/sessions?cursor=${cursor('-200000-01-01T00:00:00.000Z', '7c9e6679-7425-40de-944b-e07fc1f90ae7')}`);
    expectError(farPast, 400, 'INVALID_INPUT');
    expect(farPast.json().error.message).toMatch(/date or time is out of range/);
    expect((await get('/health')).statusCode).toBe(200);
  });

  it('refuses a session: topic of 36 dashes like any topic the user does not own', async () => {
    const { allowed, refused } = await t.runtime.events.topics.authorize(t.userId, [`session:${dashes}`]);
    expect({ allowed, refused }).toEqual({ allowed: [], refused: [`session:${dashes}`] });
    const stream = await get(`/v1/events/stream?topics=session:${dashes}`);
    expectError(stream, 403, 'FORBIDDEN');
  });

  it('refuses "constructor", "prototype" and "__proto__" keys anywhere in a JSON body, and stores nothing', async () => {
    const before = await sessionCount();
    for (const key of ['constructor', 'prototype', '__proto__']) {
      const response = await post('/v1/sessions', `{"context":{"customer":{"${key}":"x"}}}`);
      expectError(response, 400, 'FORBIDDEN_KEY');
      expect(response.json().error.details).toEqual({ key });
    }
    expect(await sessionCount()).toBe(before);
  });

  it('refuses JSON nested 30,000 deep with a message that says so, and stays healthy', async () => {
    const deep = `{"context":{"a":${'['.repeat(30_000)}${']'.repeat(30_000)}}}`;
    const response = await post('/v1/sessions', deep);
    expectError(response, 400, 'VALIDATION_FAILED');
    expect(response.json().error.message).toBe('The request body nests objects or arrays more than 64 levels deep.');
    // Sixty-four levels are still taken (the context keeps what fits its own, smaller depth).
    expect((await post('/v1/sessions', `{"context":{"a":${'['.repeat(62)}${']'.repeat(62)}}}`)).statusCode).toBe(201);
    expect((await get('/health')).statusCode).toBe(200);
  });
});
