import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

/** The routes end to end on the embedded database, with the offline responder running the runs. */
describe('trigger routes', () => {
  let app: TestApp;
  let auth: { authorization: string };
  beforeAll(async () => {
    app = await createTestApp('pglite', { AUTH_FAILURE_LIMIT: '4', WEBHOOK_MAX_BYTES: '2048', TRIGGER_TICK_MS: '100' });
    auth = bearer(app.userToken);
  });
  afterAll(() => app.close());

  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => {
    const response = await app.app.inject({ method, url, headers: auth, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: response.statusCode, json: response.body ? response.json() : undefined };
  };

  /** Waits (bounded) until the trigger's newest run has an outcome, and returns it. */
  async function finishedRun(triggerId: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 200; i++) {
      const { json } = await call('GET', `/v1/triggers/${triggerId}/runs`);
      const run = json.runs[0];
      if (run?.outcome) return run;
      await sleep(100);
    }
    throw new Error(`the run of trigger ${triggerId} did not finish within 20 s`);
  }

  it("previews a schedule's next five fire instants before it is saved, and refuses one that does not parse", async () => {
    const london = await call('POST', '/v1/triggers/schedule-preview', { schedule: { cron: '30 1 * * *', timezone: 'Europe/London' } });
    expect(london.status).toBe(200);
    expect(london.json.timezone).toBe('Europe/London');
    const instants = (london.json.upcoming as string[]).map((at) => new Date(at));
    expect(instants).toHaveLength(5);
    expect(instants.every((at, i) => at.getUTCMinutes() === 30 && (i === 0 || at > instants[i - 1]!))).toBe(true);
    const mine = await call('POST', '/v1/triggers/schedule-preview', { schedule: { everySeconds: 3600 } });
    expect(mine.json.timezone).toBe('UTC');
    expect(Date.parse(mine.json.upcoming[1]) - Date.parse(mine.json.upcoming[0])).toBe(3_600_000);
    const bad = await call('POST', '/v1/triggers/schedule-preview', { schedule: { cron: '61 * * * * *' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('VALIDATION_FAILED');
  });

  it('creates a schedule, fires it now, runs it unattended to the end and tells the user', async () => {
    const created = await call('POST', '/v1/triggers', {
      name: 'Morning research',
      kind: 'schedule',
      templateId: 'research-summary',
      variables: { topic: 'tide tables' },
      schedule: { cron: '0 8 * * 1-5', timezone: 'Europe/London' },
    });
    expect(created.status).toBe(201);
    const { trigger } = created.json;
    expect(trigger).toMatchObject({ status: 'active', version: 1, kind: 'schedule', webhookPath: null });
    expect(trigger.upcoming).toHaveLength(5);
    expect(created.json.secret).toBeUndefined();

    const fired = await call('POST', `/v1/triggers/${trigger.id}/fire`);
    expect(fired.status).toBe(202);
    const run = await finishedRun(trigger.id);
    expect(run).toMatchObject({ source: 'manual', outcome: 'completed', triggerVersion: 1 });
    const session = await app.runtime.database.db
      .selectFrom('agent_sessions')
      .select(['unattended', 'variables', 'user_id'])
      .where('id', '=', run.sessionId as string)
      .executeTakeFirstOrThrow();
    expect(session).toMatchObject({ unattended: true, user_id: app.userId, variables: { topic: 'tide tables' } });

    const { json: told } = await call('GET', '/v1/notifications');
    expect(told.notifications[0]).toMatchObject({
      kind: 'run_completed',
      read: false,
      data: { triggerId: trigger.id, sessionId: run.sessionId },
    });
    expect(told.unread).toBeGreaterThan(0);
    expect((await call('POST', '/v1/notifications/read', {})).json.marked).toBe(told.unread);

    // Another user sees none of it.
    const other = await app.app.inject({ method: 'GET', url: `/v1/triggers/${trigger.id}`, headers: bearer(app.adminToken) });
    expect(other.statusCode).toBe(404);
    expect(other.json().error.code).toBe('TRIGGER_NOT_FOUND');
  });

  it('saves an edit as a new version; pause and resume', async () => {
    const { json } = await call('POST', '/v1/triggers', {
      name: 'Hourly',
      kind: 'schedule',
      templateId: 'research-summary',
      variables: { topic: 'a' },
      schedule: { everySeconds: 3600 },
    });
    const id = json.trigger.id;
    expect(json.trigger.definition.schedule.timezone).toBe('UTC');
    const edited = await call('PUT', `/v1/triggers/${id}`, { ...json.trigger.definition, variables: { topic: 'b' } });
    expect(edited.json.trigger).toMatchObject({ version: 2, definition: { variables: { topic: 'b' } } });
    expect((await call('POST', `/v1/triggers/${id}/pause`)).json.trigger).toMatchObject({ status: 'paused', upcoming: [] });
    expect((await call('POST', `/v1/triggers/${id}/resume`)).json.trigger.status).toBe('active');
    expect((await call('DELETE', `/v1/triggers/${id}`)).status).toBe(204);
    expect((await call('GET', `/v1/triggers/${id}`)).status).toBe(404);
  });

  it('refuses a bad schedule, a bad payload path and a mapping to a variable the template lacks', async () => {
    const base = { name: 'x', templateId: 'research-summary', variables: { topic: 'a' } };
    const bad = [
      { ...base, kind: 'schedule', schedule: { cron: '61 * * * *' } },
      { ...base, kind: 'schedule', schedule: { cron: '0 8 * * *', timezone: 'Mars/Olympus' } },
      { ...base, kind: 'webhook', webhook: { mapping: { topic: 'pull_request.title' } } },
      { ...base, kind: 'webhook', webhook: { mapping: { topic: '$.items[x]' } } },
      { ...base, kind: 'webhook', webhook: { mapping: { colour: '$.colour' } } },
      { ...base, kind: 'webhook' },
    ];
    for (const body of bad) {
      const { status, json } = await call('POST', '/v1/triggers', body);
      expect([status, json.error.code], JSON.stringify(body)).toEqual([400, 'VALIDATION_FAILED']);
    }
  });

  describe('webhooks', () => {
    let id = '';
    let secret = '';
    const hook = (body: string | Buffer, headers: Record<string, string>) =>
      app.app.inject({
        method: 'POST',
        url: `/v1/hooks/${id}`,
        headers: { 'content-type': 'application/json', ...headers },
        payload: body,
      });
    const github = (body: string, key: string) => `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
    const generic = (body: string, key: string, at = Math.floor(Date.now() / 1000)) =>
      `t=${at},v1=${createHmac('sha256', key).update(`${at}.${body}`).digest('hex')}`;

    beforeAll(async () => {
      const { json } = await call('POST', '/v1/triggers', {
        name: 'On pull request',
        kind: 'webhook',
        templateId: 'research-summary',
        webhook: { mapping: { topic: '$.pull_request.title' } },
      });
      id = json.trigger.id;
      secret = json.secret;
      expect(secret).toMatch(/^whsec_/);
      expect(json.trigger.webhookPath).toBe(`/v1/hooks/${id}`);
      expect((await call('GET', `/v1/triggers/${id}`)).json.secret).toBeUndefined();
    });

    it("accepts GitHub's signed delivery once, maps its payload, and starts the run after answering", async () => {
      const body = JSON.stringify({ action: 'opened', pull_request: { title: 'Faster tides', html_url: 'https://example.test/pr/1' } });
      const first = await hook(body, { 'x-hub-signature-256': github(body, secret), 'x-github-delivery': 'd-1' });
      expect(first.statusCode).toBe(202);
      expect(first.json()).toMatchObject({ duplicate: false });
      const again = await hook(body, { 'x-hub-signature-256': github(body, secret), 'x-github-delivery': 'd-1' });
      expect([again.statusCode, again.json().duplicate]).toEqual([200, true]);
      const run = await finishedRun(id);
      expect(run).toMatchObject({ source: 'webhook', outcome: 'completed' });
      const session = await app.runtime.database.db
        .selectFrom('agent_sessions')
        .select('variables')
        .where('id', '=', run.sessionId as string)
        .executeTakeFirstOrThrow();
      expect(session.variables).toMatchObject({ topic: 'Faster tides' });
      expect((await call('GET', `/v1/triggers/${id}/runs`)).json.runs).toHaveLength(1);
    });

    it('accepts the generic signature with a fresh timestamp, and refuses a stale one, a bad one and a big body', async () => {
      const body = JSON.stringify({ pull_request: { title: 'Generic' } });
      const good = await hook(body, { 'x-agentry-signature': generic(body, secret), 'x-agentry-delivery': 'g-1' });
      expect(good.statusCode).toBe(202);
      const stale = await hook(body, {
        'x-agentry-signature': generic(body, secret, Math.floor(Date.now() / 1000) - 301),
        'x-agentry-delivery': 'g-2',
      });
      expect([stale.statusCode, stale.json().error.code]).toEqual([401, 'WEBHOOK_SIGNATURE_INVALID']);
      const wrong = await hook(body, { 'x-hub-signature-256': github(body, 'whsec_not-the-secret') });
      expect([wrong.statusCode, wrong.json().error.code]).toEqual([401, 'WEBHOOK_SIGNATURE_INVALID']);
      const big = JSON.stringify({ pad: 'x'.repeat(4096) });
      const tooBig = await hook(big, { 'x-hub-signature-256': github(big, secret) });
      expect([tooBig.statusCode, tooBig.json().error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    });

    it('keeps the old secret for the grace period after a rotation', async () => {
      const rotated = await call('POST', `/v1/triggers/${id}/secret`);
      expect(rotated.status).toBe(200);
      const body = JSON.stringify({ pull_request: { title: 'Rotated' } });
      expect((await hook(body, { 'x-hub-signature-256': github(body, secret), 'x-github-delivery': 'r-old' })).statusCode).toBe(202);
      expect(
        (await hook(body, { 'x-hub-signature-256': github(body, rotated.json.secret), 'x-github-delivery': 'r-new' })).statusCode,
      ).toBe(202);
    });

    it('counts bad signatures toward the failed-authentication limit', async () => {
      // Two failures above, the limit is 4: the next two reach it, and the one after is refused.
      const body = '{}';
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) codes.push((await hook(body, { 'x-hub-signature-256': github(body, 'wrong') })).statusCode);
      expect(codes).toEqual([401, 401, 429]);
      // An unknown hook id is a failure like a bad signature: no hint about which ids exist.
      const unknown = await app.app.inject({ method: 'POST', url: '/v1/hooks/00000000-0000-4000-8000-000000000000', payload: body });
      expect(unknown.statusCode).toBe(429);
    });
  });
});
