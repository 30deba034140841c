import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveUntilEnd } from '../../test/approvals.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

interface Notification {
  kind: string;
  title: string;
  body: string;
  data: Record<string, string>;
}

/**
 * An unattended run that stops for approval tells its user, since no one watches its chat: the
 * email-triage workflow, fired by a trigger, saves a draft (a writing sandbox tool: `ask` by
 * default), and the user is notified `run_waiting_approval` with the trigger, firing and session.
 * The run is not taken for finished while it waits; approved, it completes. A session the user
 * runs themselves waits without a notification (they see the card).
 */
describe('a triggered run waiting for approval (PGlite, the sandbox, the offline model)', () => {
  let t: TestApp;

  const call = async (method: 'GET' | 'POST', url: string, payload?: unknown) => {
    const response = await t.app.inject({
      method,
      url,
      headers: bearer(t.userToken),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    return { status: response.statusCode, json: response.body ? response.json() : undefined };
  };
  const notifications = async (): Promise<Notification[]> => (await call('GET', '/v1/notifications')).json.notifications;
  const runs = async (triggerId: string) =>
    (await call('GET', `/v1/triggers/${triggerId}/runs`)).json.runs as Array<{ id: string; sessionId: string | null; outcome: string }>;

  beforeAll(async () => {
    t = await createTestApp('pglite', { TRIGGER_TICK_MS: '100', APPROVAL_TIMEOUT: '0' });
    expect((await call('POST', '/v1/integrations/sandbox/connect')).status).toBe(201);
    expect((await call('POST', '/v1/integrations/discover', { forceRefresh: true })).status).toBe(200);
  });
  afterAll(() => t.close());

  it('notifies run_waiting_approval naming the trigger, the firing and the session; approved, the run completes', async () => {
    const created = await call('POST', '/v1/triggers', {
      name: 'Inbox triage',
      kind: 'schedule',
      templateId: 'email-triage',
      variables: {},
      schedule: { cron: '0 8 * * 1-5', timezone: 'UTC' },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const triggerId: string = created.json.trigger.id;
    expect((await call('POST', `/v1/triggers/${triggerId}/fire`)).status).toBe(202);

    let waiting: Notification | undefined;
    for (let i = 0; i < 200 && !waiting; i++) {
      waiting = (await notifications()).find((n) => n.kind === 'run_waiting_approval');
      if (!waiting) await sleep(100);
    }
    expect(waiting, 'no run_waiting_approval notification within 20 s').toBeDefined();
    const [run] = await runs(triggerId);
    expect(waiting).toMatchObject({
      title: '"Inbox triage" waits for your approval',
      data: { triggerId, firingId: run!.id, sessionId: run!.sessionId },
    });
    expect(waiting!.body).toContain('gmail__create_draft');

    // Waiting is not finishing: the run has no outcome, and the user was told nothing else.
    await sleep(300);
    expect((await runs(triggerId))[0]!.outcome).toBeNull();
    expect((await notifications()).map((n) => n.kind)).toEqual(['run_waiting_approval']);

    const turn = await t.runtime.database.db
      .selectFrom('turns')
      .select(['id', 'status'])
      .where('session_id', '=', run!.sessionId!)
      .executeTakeFirstOrThrow();
    expect(await approveUntilEnd(t, { sessionId: run!.sessionId!, turnId: turn.id, status: turn.status })).toBe('completed');
    await expect.poll(async () => (await runs(triggerId))[0]!.outcome, { timeout: 20_000, interval: 100 }).toBe('completed');
    expect((await notifications()).map((n) => n.kind)).toEqual(['run_completed', 'run_waiting_approval']);
  }, 60_000);

  it('a session the user runs themselves waits without a notification', async () => {
    const before = (await notifications()).length;
    const session = (await call('POST', '/v1/sessions', {})).json.session;
    const sent = await call('POST', `/v1/conversations/${session.conversationId}/messages?wait=true`, {
      content: '/tool gmail__create_draft {"to": ["maya@larkspur.example"], "subject": "Hi", "body": "Hello."}',
    });
    expect(sent.json.turn.status).toBe('awaiting_approval');
    expect(await notifications()).toHaveLength(before);
  });
});
