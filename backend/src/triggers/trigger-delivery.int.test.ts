import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit, type AuditRecord } from '../accounts/index.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

/**
 * A run's end told through the integration its trigger names, against the sandbox's chat and
 * mailbox, with the offline responder running the runs: the message carries the final answer and
 * a link to the session, is sent by the system (no model call), and each send or failure is in
 * the audit log.
 */
describe('trigger deliveries (PGlite, sandbox)', () => {
  let app: TestApp;
  let auth: { authorization: string };

  const call = async (method: 'GET' | 'POST', url: string, payload?: unknown) => {
    const response = await app.app.inject({ method, url, headers: auth, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: response.statusCode, json: response.body ? response.json() : undefined };
  };

  /** Fires a new trigger with `deliver` now and waits (bounded) for the audit entry of its delivery. */
  async function fireAndDeliver(name: string, deliver: object): Promise<{ audit: AuditRecord; sessionId: string; outcome: string }> {
    const created = await call('POST', '/v1/triggers', {
      name,
      kind: 'webhook',
      templateId: 'research-summary',
      variables: { topic: 'tide tables' },
      webhook: {},
      deliver,
    });
    expect(created.status).toBe(201);
    const triggerId = created.json.trigger.id as string;
    expect((await call('POST', `/v1/triggers/${triggerId}/fire`)).status).toBe(202);
    for (let i = 0; i < 200; i++) {
      const audit = (await listAudit(app.runtime.database.db, { limit: 50 })).find(
        (entry) => entry.targetId === triggerId && entry.action.startsWith('trigger.deliver'),
      );
      if (audit) {
        const { json } = await call('GET', `/v1/triggers/${triggerId}/runs`);
        return { audit, sessionId: json.runs[0].sessionId, outcome: json.runs[0].outcome };
      }
      await sleep(100);
    }
    throw new Error(`${name} was not delivered within 20 s`);
  }

  /** Calls a sandbox tool as the user; answers the `field` of each message it lists, one a line. */
  const listed = async (name: string, input: object, field: 'text' | 'subject') => {
    const [tool] = await app.runtime.integrationTools.forSession(app.userId, [name]);
    const { text } = (await tool!.execute(tool!.parse(input))) as { text: string };
    return (JSON.parse(text) as { messages: Array<Record<string, string>> }).messages.map((m) => m[field]).join('\n');
  };

  beforeAll(async () => {
    app = await createTestApp('pglite', { TRIGGER_TICK_MS: '100', PUBLIC_URL: 'https://agentry.example' });
    auth = bearer(app.userToken);
    expect((await call('POST', '/v1/integrations/sandbox/connect')).status).toBe(201);
    await call('POST', '/v1/integrations/discover', { forceRefresh: true });
  });
  afterAll(() => app.close());

  it("posts a finished run's answer and a link to its session in the chat channel the trigger names, audited", async () => {
    const { audit, sessionId } = await fireAndDeliver('Tide digest', { via: 'slack', channel: '#general' });
    expect(audit).toMatchObject({
      action: 'trigger.delivered',
      actorUserId: app.userId,
      details: { via: 'slack', tool: 'slack__post_message', outcome: 'completed', sessionId },
    });
    const history = await listed('slack__get_channel_history', { channel: '#general' }, 'text');
    expect(history).toContain('"Tide digest" finished');
    expect(history).toContain(`https://agentry.example/chat/${sessionId}`);
    expect(history).toContain('offline responder');
    // A system send, not a model's call: the run's session holds no such tool call.
    const calls = await app.runtime.database.db.selectFrom('tool_calls').select('tool').where('session_id', '=', sessionId).execute();
    expect(calls.map((c) => c.tool)).not.toContain('slack__post_message');
  });

  it('emails it to the address the trigger names', async () => {
    const { audit, sessionId } = await fireAndDeliver('Tide mail', { via: 'email', to: 'alex@larkspur.example' });
    expect(audit).toMatchObject({ action: 'trigger.delivered', details: { via: 'email', tool: 'gmail__send_email' } });
    expect(await listed('gmail__list_unread', {}, 'subject')).toContain('"Tide mail" finished');
    expect(sessionId).toBeTruthy();
  });

  it('audits a delivery that fails, and the run still counts as finished', async () => {
    const { audit, outcome } = await fireAndDeliver('Nowhere', { via: 'slack', channel: '#no-such-channel' });
    expect(outcome).toBe('completed');
    expect(audit).toMatchObject({ action: 'trigger.delivery_failed', details: { via: 'slack', outcome: 'completed' } });
    expect(String((audit.details as { error: string }).error)).not.toBe('');
  });

  it('refuses a delivery setting that does not fit', async () => {
    const bad = await call('POST', '/v1/triggers', {
      name: 'Bad',
      kind: 'webhook',
      templateId: 'research-summary',
      variables: { topic: 'x' },
      webhook: {},
      deliver: { via: 'email', to: 'not an address' },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('VALIDATION_FAILED');
  });

  it('refuses a delivery through an integration its owner has not connected', async () => {
    const refused = await app.app.inject({
      method: 'POST',
      url: '/v1/triggers',
      headers: bearer(app.adminToken),
      payload: {
        name: 'Unsent',
        kind: 'webhook',
        templateId: 'research-summary',
        webhook: {},
        deliver: { via: 'slack', channel: '#general' },
      },
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toMatchObject({
      code: 'INTEGRATION_DISCONNECTED',
      message: expect.stringContaining('slack__post_message'),
    });
    expect(await app.runtime.database.db.selectFrom('triggers').select('id').where('name', '=', 'Unsent').execute()).toEqual([]);
  });
});
