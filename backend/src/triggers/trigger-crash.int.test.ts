import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurableServers, query } from '../../test/durable-server.ts';
import { runEntry } from '../../test/server-process.ts';
import { createTestTarget } from '../../test/test-database.ts';

/**
 * A server killed with SIGKILL between claiming a firing and starting its run (PostgreSQL, the
 * servers as child processes): another instance starts the run once the claim's lease lapses,
 * and only once. The firing is made with the CLI, as an operator would.
 */
describe('a trigger firing whose instance dies before its run starts', () => {
  let servers: DurableServers;
  let drop: () => Promise<void>;
  const fast = { TRIGGER_LEASE_TTL_MS: '1500', TRIGGER_TICK_MS: '200' };
  beforeAll(async () => {
    const target = await createTestTarget('postgres');
    drop = target.drop;
    if (target.target.driver !== 'postgres') throw new Error('PostgreSQL expected');
    servers = new DurableServers(target.target.url);
  });
  afterAll(async () => {
    await servers.stopAll();
    await drop();
  });

  it('starts the run once after recovery', async () => {
    const doomed = await servers.start({ ...fast, FAULT_INJECTION_KILL_AT: 'firing-claimed' });
    const { status, json } = await servers.call<{ trigger: { id: string } }>(doomed, 'POST', '/v1/triggers', {
      name: 'Crash-proof research',
      kind: 'schedule',
      templateId: 'research-summary',
      variables: { topic: 'lighthouses' },
      schedule: { cron: '0 3 1 1 *', timezone: 'UTC' },
    });
    expect(status).toBe(201);
    const id = json.trigger.id;
    const cli = (args: string[], server = doomed) =>
      runEntry('cli', ['triggers', ...args, '--url', server.url, '--token', servers.token], {});

    const listed = cli(['list']);
    await listed.exited;
    expect(listed.output()).toContain(id);
    const fired = cli(['fire', id]);
    expect((await fired.exited).code).toBe(0);
    expect(fired.output()).toMatch(/^Fired: run [0-9a-f-]{36}/);
    expect((await doomed.exited).signal).toBe('SIGKILL');

    const [claimed] = await query<{ id: string; status: string }>(
      servers.databaseUrl,
      'select id, status from trigger_firings where trigger_id = $1',
      [id],
    );
    expect(claimed?.status).toBe('starting');
    expect(await query(servers.databaseUrl, 'select id from agent_sessions where trigger_firing_id = $1', [claimed!.id])).toHaveLength(0);

    await servers.start(fast);
    let firing: { status: string; outcome: string | null; session_id: string | null; attempts: number } | undefined;
    for (let i = 0; i < 300 && !firing?.outcome; i++) {
      [firing] = await query(servers.databaseUrl, 'select status, outcome, session_id, attempts from trigger_firings where id = $1', [
        claimed!.id,
      ]);
      await sleep(100);
    }
    expect(firing).toMatchObject({ status: 'started', outcome: 'completed', attempts: 2 });
    const sessions = await query<{ id: string; unattended: boolean }>(
      servers.databaseUrl,
      'select id, unattended from agent_sessions where trigger_firing_id = $1',
      [claimed!.id],
    );
    expect(sessions).toEqual([{ id: firing!.session_id, unattended: true }]);
    expect(await query(servers.databaseUrl, 'select id from turns where session_id = $1', [firing!.session_id])).toHaveLength(1);
  });
});
