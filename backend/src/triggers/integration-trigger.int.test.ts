import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialVault } from '../integrations/index.ts';
import { parseKeyring, resolveSecretKey } from '../secret-key.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { createTriggerSystem } from './trigger-system.ts';
import type { RunLauncher } from './run-launcher.ts';
import type { TriggerInput } from './trigger-definition.ts';
import type { PollWatermark } from './integration-poller.ts';

/**
 * Integration-event triggers against the sandbox mailbox, with an injected clock: the poll calls
 * the owner's `gmail__list_unread`, what is in the inbox when the trigger is saved fires nothing,
 * a message that arrives afterwards starts one run, and it never starts a second (another poll,
 * another instance after a restart). A poll that keeps failing pauses its trigger and says why.
 */
describe('integration-event triggers (PGlite, sandbox mailbox)', () => {
  let app: TestApp;
  const clock = { now: Date.parse('2025-06-02T09:00:00Z') };
  const user = { id: '', name: 'User', timezone: 'UTC' };

  /** A trigger system as one instance has it; each call is a fresh instance over the same database. */
  function instance() {
    const launched: Array<{ firingId: string; variables: Record<string, unknown> }> = [];
    const { sessions, users } = app.runtime;
    const launcher: RunLauncher = {
      async launch(request) {
        launched.push({ firingId: request.firingId, variables: request.variables });
        const owner = await users.get(request.userId);
        const { session } = await sessions.create(
          { id: owner.id, name: owner.name, timezone: owner.timezone },
          { templateId: request.templateId, variables: request.variables, triggerFiringId: request.firingId },
        );
        return { sessionId: session.id };
      },
      answer: async () => undefined,
    };
    const system = createTriggerSystem({
      ...app.runtime,
      bus: app.runtime.events.bus,
      vault: new CredentialVault(parseKeyring(resolveSecretKey(app.config))),
      settings: app.config.triggers,
      instanceId: `test-${Math.random()}`,
      reach: () => undefined,
      now: () => clock.now,
      launcher,
      onError: (error) => {
        throw error;
      },
    });
    return { ...system, launched };
  }

  const inbox = (extra: Partial<TriggerInput> = {}): TriggerInput => ({
    name: 'New mail',
    kind: 'integration',
    templateId: 'research-summary',
    // Each message its own run, even while an earlier one is still going.
    overlap: 'allow',
    integration: {
      tool: 'gmail__list_unread',
      arguments: { maxResults: 30 },
      everySeconds: 60,
      itemsPath: '$.messages',
      idPath: '$.id',
      mapping: { topic: '$.subject' },
    },
    ...extra,
  });

  const firings = (triggerId: string) =>
    app.runtime.database.db.selectFrom('trigger_firings').selectAll().where('trigger_id', '=', triggerId).execute();

  const sendToSelf = async (subject: string) => {
    const [send] = await app.runtime.integrationTools.forSession(app.userId, ['gmail__send_email']);
    await send!.execute(send!.parse({ to: ['alex@larkspur.example'], subject, body: 'The June tables are out.' }));
  };

  beforeAll(async () => {
    app = await createTestApp('pglite', {}, { background: false, now: () => clock.now });
    user.id = app.userId;
    const headers = bearer(app.userToken);
    expect((await app.app.inject({ method: 'POST', url: '/v1/integrations/sandbox/connect', headers })).statusCode).toBe(201);
    await app.app.inject({ method: 'POST', url: '/v1/integrations/discover', headers, payload: { forceRefresh: true } });
  });
  afterAll(() => app.close());

  it('starts one run per new message, never a second for the same one, also after a restart', async () => {
    const first = instance();
    const { trigger } = await first.triggers.create(user, inbox());

    // The first poll sets the baseline: the sample inbox's unread mail fires nothing.
    await first.worker.tick();
    expect(await firings(trigger.id)).toHaveLength(0);
    const baseline = (
      await app.runtime.database.db.selectFrom('triggers').select('watermark').where('id', '=', trigger.id).executeTakeFirstOrThrow()
    ).watermark as unknown as PollWatermark;
    expect(baseline.seen.length).toBeGreaterThan(0);

    await sendToSelf('Tide tables for June');
    // Not due yet: nothing is polled before the interval.
    await first.worker.tick();
    expect(await firings(trigger.id)).toHaveLength(0);

    clock.now += 61_000;
    await first.worker.tick();
    const fired = await firings(trigger.id);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ source: 'integration', status: 'started', input: { topic: 'Tide tables for June' } });
    expect(fired[0]!.fire_key).toMatch(/^item:/);
    expect(first.launched).toEqual([{ firingId: fired[0]!.id, variables: { topic: 'Tide tables for June' } }]);

    clock.now += 61_000;
    await first.worker.tick();
    expect(await firings(trigger.id)).toHaveLength(1);

    // Another instance after a restart reads the watermark from the database.
    await first.worker.stop();
    const second = instance();
    clock.now += 61_000;
    await second.worker.tick();
    expect(await firings(trigger.id)).toHaveLength(1);
    expect(second.launched).toEqual([]);

    // A second new message is one more run, on either instance.
    await sendToSelf('Harbour closures');
    clock.now += 61_000;
    await second.worker.tick();
    const after = await firings(trigger.id);
    expect(after.map((f) => f.input['topic']).sort()).toEqual(['Harbour closures', 'Tide tables for June']);
    expect(second.launched.map((l) => l.variables['topic'])).toEqual(['Harbour closures']);
  });

  it('refuses to save a poll of a tool that is not connected', async () => {
    await expect(
      instance().triggers.create(user, inbox({ name: 'No such tool', integration: { tool: 'github__list_issues', everySeconds: 60 } })),
    ).rejects.toMatchObject({ code: 'INTEGRATION_DISCONNECTED', message: expect.stringContaining('github__list_issues') });
  });

  // Last: it disconnects the sample integration.
  it('pauses a trigger whose polls keep failing once its integration is disconnected, and tells its owner why', async () => {
    const system = instance();
    const { trigger } = await system.triggers.create(user, inbox({ name: 'Gone tool', pauseAfterFailures: 2 }));
    const { id: connectionId } = await app.runtime.database.db
      .selectFrom('integration_connections')
      .select('id')
      .where('user_id', '=', app.userId)
      .executeTakeFirstOrThrow();
    const disconnected = await app.app.inject({
      method: 'DELETE',
      url: `/v1/integrations/${connectionId}`,
      headers: bearer(app.userToken),
    });
    expect(disconnected.statusCode).toBe(200);
    await system.worker.tick();
    expect((await system.triggers.get(app.userId, trigger.id)).status).toBe('active');
    clock.now += 61_000;
    await system.worker.tick();
    const paused = await system.triggers.get(app.userId, trigger.id);
    expect(paused.status).toBe('paused');
    expect(paused.pausedReason).toContain('gmail__list_unread');
    const { notifications } = await system.notifications.list(app.userId, { limit: 10 });
    expect(notifications[0]).toMatchObject({ kind: 'trigger_paused', title: '"Gone tool" paused itself' });
  });
});
