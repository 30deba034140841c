import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurableServers, expectNothingLostOrDoubled, query, settledTurns } from '../../test/durable-server.ts';
import type { ServerProcess } from '../../test/server-process.ts';
import { startPostgresCluster, type PostgresCluster } from '../../test/postgres-cluster.ts';
import { createTestTarget } from '../../test/test-database.ts';
import { openSocket } from '../../test/ws-client.ts';

/**
 * The server as its own process on PostgreSQL, killed with SIGKILL at the named fault points and
 * at random moments, then started again: every turn finishes, or waits for the user's decision
 * on a call that may have had its effect; no effect is applied twice and no step recorded twice.
 * Effects are counted by the fixture tools in a file that outlives every process.
 *
 * PostgreSQL only, on purpose: most of these cases need two instances on one database at once
 * (one killed, one that takes its turns over), and the embedded database admits one process per
 * data directory. The embedded shape's crash case (killed mid-turn, resumed by the next start) is
 * in `main.int.test.ts`; the suite below restarts the PostgreSQL server itself.
 */
describe('durable execution: servers killed and restarted (PostgreSQL, the server as a child process)', () => {
  let servers: DurableServers;
  let drop: () => Promise<void>;
  let url: string;
  let survivor: ServerProcess | undefined;
  const sessions: string[] = [];

  beforeAll(async () => {
    const target = await createTestTarget('postgres');
    if (target.target.driver !== 'postgres') throw new Error('unreachable');
    url = target.target.url;
    drop = target.drop;
    servers = new DurableServers(url);
    survivor = await servers.start();
  }, 120_000);
  afterAll(async () => {
    await servers.stopAll();
    await drop();
  });

  /** Starts a server that dies at `point`, and has it start a turn calling `tool`. */
  async function killedAt(
    point: string,
    tool: string,
  ): Promise<{ session: { id: string; conversationId: string }; checkpointsSeen: string[]; killedAt: number }> {
    const doomed = await servers.start({ FAULT_INJECTION_KILL_AT: point });
    const session = await servers.newSession(doomed);
    sessions.push(session.id);
    const socket = openSocket(`${doomed.url.replace('http', 'ws')}/v1/ws`, { headers: { authorization: `Bearer ${servers.token}` } });
    await socket.next((f) => f.type === 'ready');
    socket.send({ type: 'subscribe', topics: [`session:${session.id}`] });
    await socket.next((f) => f.type === 'subscribed');
    const sent = await servers.call(doomed, 'POST', `/v1/conversations/${session.conversationId}/messages`, {
      content: `/tool ${tool} {"label": "${point}"}`,
    });
    expect(sent.status).toBe(202);
    expect((await doomed.exited).signal).toBe('SIGKILL');
    const killed = performance.now();
    await socket.closed;
    const checkpointsSeen = socket
      .events()
      .filter((e) => e.event === 'session.checkpoint')
      .map((e) => (e.data as { checkpointId: string }).checkpointId);
    return { session, checkpointsSeen, killedAt: killed };
  }

  const finishes = [
    { point: 'before-tool', tool: 'charge_card' },
    { point: 'tool-ran', tool: 'send_note' },
    { point: 'after-tool', tool: 'charge_card' },
    { point: 'after-checkpoint', tool: 'charge_card' },
  ];
  it.each(finishes)(
    'killed at $point, calling $tool: another instance finishes the turn, applying the effect once',
    async ({ point, tool }) => {
      const { session, checkpointsSeen, killedAt: killed } = await killedAt(point, tool);
      const [turn] = await settledTurns(url, [session.id]);
      const recoveredIn = performance.now() - killed;
      expect(turn).toMatchObject({ status: 'completed', recoveries: 1 });
      const effects = [...servers.effects().entries()].filter(([key]) => key.startsWith(`${session.id}:`));
      expect(effects).toHaveLength(1);
      const transcript = (
        await servers.call<{ messages: Array<{ role: string; toolResult: unknown }> }>(
          survivor!,
          'GET',
          `/v1/conversations/${session.conversationId}/messages`,
        )
      ).json.messages;
      expect(transcript.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
      // Every checkpoint a client heard of is in the database.
      const stored = await query<{ id: string }>(url, 'select id from session_checkpoints where session_id = $1', [session.id]);
      for (const id of checkpointsSeen) expect(stored.map((c) => c.id)).toContain(id);
      await expectNothingLostOrDoubled(servers, sessions);
      console.info(`killed at ${point}: resumed and finished by the other instance ${Math.round(recoveredIn)} ms after the kill`);
    },
    120_000,
  );

  it('killed after a call that must not run twice had its effect: the session waits for the user, who skips it, and the turn finishes', async () => {
    const { session } = await killedAt('tool-ran', 'charge_card');
    const [turn] = await settledTurns(url, [session.id]);
    expect(turn).toMatchObject({ status: 'suspended', error: { code: 'TOOL_OUTCOME_UNKNOWN' } });
    const paused = (
      await servers.call<{ session: { status: string; lastError: { code: string } } }>(survivor!, 'GET', `/v1/sessions/${session.id}`)
    ).json.session;
    expect(paused).toMatchObject({ status: 'paused', lastError: { code: 'TOOL_OUTCOME_UNKNOWN' } });
    // Resuming, or a new message, needs the decision first.
    expect((await servers.call(survivor!, 'POST', `/v1/sessions/${session.id}/status`, { status: 'running' })).status).toBe(409);

    const resolved = await servers.call(survivor!, 'POST', `/v1/sessions/${session.id}/resolve`, {
      action: 'skip',
      note: 'The card was charged; do not charge it again.',
    });
    expect(resolved.status, JSON.stringify(resolved.json)).toBe(200);
    const [finished] = await settledTurns(url, [session.id]);
    expect(finished!.status).toBe('completed');
    const transcript = (
      await servers.call<{ messages: Array<{ role: string; toolResult: unknown }> }>(
        survivor!,
        'GET',
        `/v1/conversations/${session.conversationId}/messages`,
      )
    ).json.messages;
    expect(transcript.find((m) => m.role === 'tool')!.toolResult).toEqual({
      code: 'TOOL_SKIPPED',
      message: 'The card was charged; do not charge it again.',
    });
    expect([...servers.effects().keys()].filter((key) => key.startsWith(`${session.id}:`))).toHaveLength(1);
    expect(
      (await servers.call<{ error: { code: string } }>(survivor!, 'POST', `/v1/sessions/${session.id}/resolve`, { action: 'retry' })).json
        .error.code,
    ).toBe('NOTHING_TO_RESOLVE');
    await expectNothingLostOrDoubled(servers, sessions);
  }, 120_000);

  it('killed at random moments, twenty times: every turn finishes or waits for a decision, nothing applied or recorded twice', async () => {
    const outcomes: Record<string, number> = {};
    const random: string[] = [];
    const checkpointsSeen: string[] = [];
    for (let run = 0; run < 20; run++) {
      const doomed = await servers.start();
      const batch = await Promise.all(Array.from({ length: 3 }, () => servers.newSession(doomed)));
      random.push(...batch.map((s) => s.id));
      sessions.push(...batch.map((s) => s.id));
      const socket = openSocket(`${doomed.url.replace('http', 'ws')}/v1/ws`, { headers: { authorization: `Bearer ${servers.token}` } });
      await socket.next((f) => f.type === 'ready');
      socket.send({ type: 'subscribe', topics: batch.map((s) => `session:${s.id}`) });
      await socket.next((f) => f.type === 'subscribed');
      await Promise.all(
        batch.map((s, i) =>
          servers.call(doomed, 'POST', `/v1/conversations/${s.conversationId}/messages`, {
            content: `/tool ${i % 2 === 0 ? 'send_note' : 'charge_card'} {"label": "run ${run}", "delayMs": ${Math.floor(Math.random() * 40)}}`,
          }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 300)));
      await servers.kill(doomed);
      await socket.closed;
      checkpointsSeen.push(
        ...socket
          .events()
          .filter((e) => e.event === 'session.checkpoint')
          .map((e) => (e.data as { checkpointId: string }).checkpointId),
      );
    }
    const turns = await settledTurns(url, random, 60_000);
    for (const turn of turns) {
      const outcome = turn.status === 'suspended' ? `suspended (${turn.error?.code})` : turn.status;
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      expect(['completed', 'suspended (TOOL_OUTCOME_UNKNOWN)']).toContain(outcome);
    }
    // A call that waits for a decision is one that must not run twice.
    const waiting = await query<{ tool: string }>(url, `select tool from tool_calls where session_id = any($1) and status = 'started'`, [
      random,
    ]);
    expect(waiting.every((entry) => entry.tool === 'charge_card')).toBe(true);
    await expectNothingLostOrDoubled(servers, sessions);
    // Every checkpoint a client heard of before a kill is in the database.
    const stored = new Set(
      (await query<{ id: string }>(url, 'select id from session_checkpoints where session_id = any($1)', [random])).map((c) => c.id),
    );
    expect(checkpointsSeen.filter((id) => !stored.has(id))).toEqual([]);
    console.info(
      `20 random kills, ${turns.length} turns (${turns.filter((t) => t.recoveries > 0).length} resumed by another instance): ${JSON.stringify(outcomes)}; ${checkpointsSeen.length} checkpoints seen by a client before a kill, all stored`,
    );
  }, 300_000);
  it('two instances on one database: both execute turns, each turn on one at a time, and one finishes the turn the other was killed holding', async () => {
    const other = await servers.start();
    const both = [survivor!, other];
    const batch = await Promise.all(Array.from({ length: 8 }, () => servers.newSession(other)));
    sessions.push(...batch.map((s) => s.id));
    await Promise.all(
      batch.map((s, i) =>
        servers.call(both[i % 2]!, 'POST', `/v1/conversations/${s.conversationId}/messages`, {
          content: `/tool send_note {"label": "shared ${i}", "delayMs": 100}`,
        }),
      ),
    );
    const turns = await settledTurns(
      url,
      batch.map((s) => s.id),
    );
    expect(turns.map((t) => t.status)).toEqual(Array(8).fill('completed'));
    const pids = new Set(
      [...servers.effects().entries()].filter(([key]) => batch.some((s) => key.startsWith(`${s.id}:`))).map(([, [effect]]) => effect!.pid),
    );
    expect(pids).toEqual(new Set([survivor!.child.pid, other.child.pid]));

    // A cancel sent to one instance stops the turn the other runs.
    const cancelled = await servers.newSession(other);
    sessions.push(cancelled.id);
    await servers.call(other, 'POST', `/v1/conversations/${cancelled.conversationId}/messages`, {
      content: '/tool send_note {"label": "cancel me", "delayMs": 1000}',
    });
    await expect
      .poll(
        async () => (await query(url, `select 1 from tool_calls where session_id = $1 and status = 'started'`, [cancelled.id])).length,
        { timeout: 10_000 },
      )
      .toBe(1);
    expect((await servers.call(survivor!, 'POST', `/v1/sessions/${cancelled.id}/cancel`)).json).toEqual({ cancelled: true });
    expect((await settledTurns(url, [cancelled.id]))[0]!.status).toBe('cancelled');

    // The instance holding a turn dies while its tool runs; the other takes the turn over.
    const held = await servers.newSession(other);
    sessions.push(held.id);
    await servers.call(other, 'POST', `/v1/conversations/${held.conversationId}/messages`, {
      content: '/tool send_note {"label": "takeover", "delayMs": 2000}',
    });
    await expect
      .poll(async () => (await query(url, `select 1 from tool_calls where session_id = $1 and status = 'started'`, [held.id])).length, {
        timeout: 10_000,
      })
      .toBe(1);
    await servers.kill(other);
    const killed = performance.now();
    const [turn] = await settledTurns(url, [held.id]);
    expect(turn).toMatchObject({ status: 'completed', recoveries: 1 });
    const [effect] = [...servers.effects().entries()].filter(([key]) => key.startsWith(`${held.id}:`));
    expect(effect![1]).toEqual([{ tool: 'send_note', pid: survivor!.child.pid }]);
    await expectNothingLostOrDoubled(servers, sessions);
    console.info(
      `takeover: the surviving instance finished the turn ${Math.round(performance.now() - killed)} ms after the kill (lease 1500 ms, tool 2000 ms)`,
    );
  }, 120_000);

  it('on SIGTERM, a running turn records its tool call and lets its lease go: the other instance finishes it at once', async () => {
    // A long lease: only a released one explains a quick takeover.
    const leaving = await servers.start({ SESSION_LEASE_TTL_MS: '60000' });
    const session = await servers.newSession(leaving);
    sessions.push(session.id);
    await servers.call(leaving, 'POST', `/v1/conversations/${session.conversationId}/messages`, {
      content: '/tool charge_card {"label": "handover", "delayMs": 800}',
    });
    await expect
      .poll(async () => (await query(url, `select 1 from tool_calls where session_id = $1 and status = 'started'`, [session.id])).length, {
        timeout: 10_000,
      })
      .toBe(1);
    leaving.child.kill('SIGTERM');
    const signalled = performance.now();
    expect((await leaving.exited).code).toBe(0);
    const [turn] = await settledTurns(url, [session.id]);
    const handover = performance.now() - signalled;
    expect(turn).toMatchObject({ status: 'completed', recoveries: 0 });
    expect(handover).toBeLessThan(20_000);
    // The call finished on the instance that was leaving, and was not run again.
    const [effect] = [...servers.effects().entries()].filter(([key]) => key.startsWith(`${session.id}:`));
    expect(effect![1]).toEqual([{ tool: 'charge_card', pid: leaving.child.pid }]);
    await expectNothingLostOrDoubled(servers, sessions);
    console.info(`SIGTERM handover: finished by the other instance ${Math.round(handover)} ms after the signal (lease 60000 ms)`);
  }, 120_000);

  it('connections terminated during runs: the turns finish, once each, and the server stays up', async () => {
    const batch = await Promise.all(Array.from({ length: 6 }, () => servers.newSession(survivor!)));
    sessions.push(...batch.map((s) => s.id));
    await Promise.all(
      batch.map((s, i) =>
        servers.call(survivor!, 'POST', `/v1/conversations/${s.conversationId}/messages`, {
          content: `/tool send_note {"label": "terminated ${i}", "delayMs": 150}`,
        }),
      ),
    );
    let terminated = 0;
    for (let round = 0; round < 8; round++) {
      const rows = await query<{ ok: boolean }>(
        url,
        'select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
      );
      terminated += rows.length;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(terminated).toBeGreaterThan(0);
    const turns = await settledTurns(
      url,
      batch.map((s) => s.id),
      60_000,
    ).catch(async (e) => {
      console.info(`the server's exit code: ${survivor!.child.exitCode}, signal ${survivor!.child.signalCode}`);
      console.info(
        survivor!
          .output()
          .split('\n')
          .filter((l) => !l.includes('"level":30'))
          .join('\n')
          .slice(-4000),
      );
      console.info(
        JSON.stringify(
          await query(
            url,
            `select id, lease_owner, lease_expires_at - now() as left, cancel_requested from turns where status = 'running'`,
          ),
          null,
          1,
        ),
      );
      console.info(
        JSON.stringify(
          await query(
            url,
            `select pid, state, wait_event_type, wait_event, left(query, 120) as q, now() - state_change as age from pg_stat_activity where datname = current_database()`,
          ),
          null,
          1,
        ),
      );
      console.info(
        JSON.stringify(
          await query(
            url,
            `select turn_id, step, call_index, status from tool_calls where turn_id in (select id from turns where status = 'running')`,
          ),
          null,
          1,
        ),
      );
      throw e;
    });
    expect(
      turns.map((t) => t.status),
      JSON.stringify(turns.map((t) => t.error)),
    ).toEqual(Array(6).fill('completed'));
    expect(survivor!.child.exitCode).toBeNull();
    expect((await fetch(`${survivor!.url}/health`)).status).toBe(200);
    await expectNothingLostOrDoubled(servers, sessions);
  }, 120_000);
});

describe('durable execution: PostgreSQL restarted under load', () => {
  let cluster: PostgresCluster;
  let servers: DurableServers;

  beforeAll(async () => {
    cluster = await startPostgresCluster({ durableCommits: true });
    const admin = new URL(cluster.url);
    await query(cluster.url, 'create database agentry_restart');
    admin.pathname = '/agentry_restart';
    servers = new DurableServers(admin.toString());
  }, 120_000);
  afterAll(async () => {
    await servers.stopAll();
    await cluster.stop();
  });

  it('recovers without a restart of its own: every turn finishes, with no step twice', async () => {
    const server = await servers.start();
    const batch = await Promise.all(Array.from({ length: 8 }, () => servers.newSession(server)));
    const ids = batch.map((s) => s.id);
    await Promise.all(
      batch.map((s, i) =>
        servers.call(server, 'POST', `/v1/conversations/${s.conversationId}/messages`, {
          content: `/tool send_note {"label": "restart ${i}", "delayMs": ${50 * i}}`,
        }),
      ),
    );
    await cluster.restart();
    const turns = await settledTurns(servers.databaseUrl, ids, 60_000);
    expect(turns.map((t) => t.status)).toEqual(Array(8).fill('completed'));
    expect(server.child.exitCode).toBeNull();
    await expect.poll(async () => (await fetch(`${server.url}/health`)).status, { timeout: 15_000 }).toBe(200);
    await expectNothingLostOrDoubled(servers, ids);
    // And it goes on serving.
    const after = await servers.newSession(server);
    const answered = await servers.call<{ turn: { status: string } }>(
      server,
      'POST',
      `/v1/conversations/${after.conversationId}/messages?wait=true`,
      { content: 'Still there?' },
    );
    expect(answered.json.turn.status).toBe('completed');
  }, 120_000);
});
