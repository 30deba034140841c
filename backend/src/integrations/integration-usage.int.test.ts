import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';

interface Bucket {
  start: string;
  calls: number;
  errors: number;
  p95Ms: number | null;
}

/**
 * Usage over time (`GET /v1/integrations/usage`): the rows a tool call records, counted per UTC
 * hour or day for the caller alone, with empty buckets present and the range bounded.
 */
describe.each(drivers)('integration usage over time (%s)', (driver) => {
  let t: TestApp;
  let otherUserId: string;

  const used = (userId: string, at: string, durationMs: number, outcome: 'ok' | 'error' = 'ok') => ({
    user_id: userId,
    provider: 'mail',
    type: 'tool_used' as const,
    tool: 'mail__list_unread',
    outcome,
    error_code: outcome === 'error' ? 'TOOL_FAILED' : null,
    duration_ms: durationMs,
    at: new Date(at),
  });

  const usage = async (search: string, token = t.userToken) => {
    const response = await t.app.inject({ method: 'GET', url: `/v1/integrations/usage${search}`, headers: bearer(token) });
    return { status: response.statusCode, body: response.json<{ buckets: Bucket[]; error?: { code: string; message: string } }>() };
  };

  beforeAll(async () => {
    t = await createTestApp(driver);
    otherUserId = (
      await t.runtime.database.db.selectFrom('users').select('id').where('email', '=', 'admin@example.test').executeTakeFirstOrThrow()
    ).id;
    await t.runtime.database.db
      .insertInto('integration_events')
      .values([
        used(t.userId, '2026-01-02T10:15:00Z', 100),
        used(t.userId, '2026-01-02T10:45:00Z', 300, 'error'),
        used(t.userId, '2026-01-02T11:05:00Z', 50),
        used(t.userId, '2026-01-05T08:00:00Z', 40),
        // Outside the range asked for, a failure that is not a call, and someone else's calls.
        used(t.userId, '2026-01-08T00:00:00Z', 999),
        { user_id: t.userId, provider: 'mail', type: 'error', error_code: 'CONNECTION_BROKEN', at: new Date('2026-01-02T10:30:00Z') },
        used(otherUserId, '2026-01-02T10:20:00Z', 5000),
        used(otherUserId, '2026-01-03T10:20:00Z', 5000),
      ])
      .execute();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('counts the caller’s calls per day, every day of the range present', async () => {
    const { status, body } = await usage('?from=2026-01-01T00:00:00Z&to=2026-01-08T00:00:00Z&bucket=day');
    expect(status).toBe(200);
    expect(body.buckets.map((b) => b.start)).toEqual(
      ['01', '02', '03', '04', '05', '06', '07'].map((day) => `2026-01-${day}T00:00:00.000Z`),
    );
    expect(body.buckets[1]).toEqual({ start: '2026-01-02T00:00:00.000Z', calls: 3, errors: 1, p95Ms: 280 });
    expect(body.buckets[4]).toEqual({ start: '2026-01-05T00:00:00.000Z', calls: 1, errors: 0, p95Ms: 40 });
    expect(body.buckets[2]).toEqual({ start: '2026-01-03T00:00:00.000Z', calls: 0, errors: 0, p95Ms: null });
    expect(body.buckets.reduce((sum, b) => sum + b.calls, 0)).toBe(4);
  });

  it('counts per hour, starting at the hour the range starts in', async () => {
    const { body } = await usage('?from=2026-01-02T09:30:00Z&to=2026-01-02T12:00:00Z&bucket=hour');
    expect(body.buckets).toEqual([
      { start: '2026-01-02T09:00:00.000Z', calls: 0, errors: 0, p95Ms: null },
      { start: '2026-01-02T10:00:00.000Z', calls: 2, errors: 1, p95Ms: 290 },
      { start: '2026-01-02T11:00:00.000Z', calls: 1, errors: 0, p95Ms: 50 },
    ]);
  });

  it('never counts another user’s calls', async () => {
    const { body } = await usage('?from=2026-01-01T00:00:00Z&to=2026-01-08T00:00:00Z', t.adminToken);
    expect(body.buckets.filter((b) => b.calls > 0)).toEqual([
      { start: '2026-01-02T00:00:00.000Z', calls: 1, errors: 0, p95Ms: 5000 },
      { start: '2026-01-03T00:00:00.000Z', calls: 1, errors: 0, p95Ms: 5000 },
    ]);
  });

  it('covers the last 7 days by day when asked for nothing', async () => {
    const justNow = new Date(Date.now() - 1000).toISOString();
    const sevenDaysAgo = new Date(Date.now() - 7 * 86_400_000);
    // Early on the first day: its bucket is a whole day, so it counts.
    const firstMorning = `${sevenDaysAgo.toISOString().slice(0, 10)}T00:00:01.000Z`;
    await t.runtime.database.db
      .insertInto('integration_events')
      .values([used(t.userId, justNow, 70), used(t.userId, firstMorning, 20)])
      .execute();
    const { body } = await usage('');
    expect(body.buckets).toHaveLength(8);
    expect(body.buckets[0]).toMatchObject({ start: `${sevenDaysAgo.toISOString().slice(0, 10)}T00:00:00.000Z`, calls: 1 });
    expect(body.buckets.find((b) => b.start.slice(0, 10) === justNow.slice(0, 10))).toMatchObject({ calls: 1, p95Ms: 70 });
    expect(body.buckets.reduce((sum, b) => sum + b.calls, 0)).toBe(2);
  });

  it('refuses a range too wide for its bucket, reversed, or an unknown bucket size', async () => {
    const hours = await usage('?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:01Z&bucket=hour');
    expect(hours.status).toBe(400);
    expect(hours.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringContaining('at most 31 days before to for hour buckets'),
    });
    expect((await usage('?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z&bucket=hour')).status).toBe(200);
    const days = await usage('?from=2025-01-01T00:00:00Z&to=2026-01-03T00:00:00Z');
    expect(days.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('366 days') });
    const reversed = await usage('?from=2026-01-03T00:00:00Z&to=2026-01-02T00:00:00Z');
    expect(reversed.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('must be before to') });
    expect((await usage('?bucket=week')).status).toBe(400);
  });
});
