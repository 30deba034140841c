import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurableServers, query } from '../../test/durable-server.ts';
import type { ServerProcess } from '../../test/server-process.ts';
import { createTestTarget } from '../../test/test-database.ts';

/**
 * Approvals across processes on PostgreSQL: a call of `charge_card` (the administrator's rule
 * CUSTOM_TOOL_APPROVALS makes it `ask`) waits durably; the instance whose turn it was is killed
 * (SIGKILL), another one sees it still pending and approves it, and the tool runs once there.
 * Also: two racing decisions, denial with a note, an edit, and expiry.
 */
describe('approvals: a durable wait, decided on any instance (PostgreSQL, servers as child processes)', () => {
  let servers: DurableServers;
  let drop: () => Promise<void>;
  let url: string;
  let survivor: ServerProcess;

  beforeAll(async () => {
    const target = await createTestTarget('postgres');
    if (target.target.driver !== 'postgres') throw new Error('unreachable');
    url = target.target.url;
    drop = target.drop;
    servers = new DurableServers(url);
    survivor = await servers.start({ CUSTOM_TOOL_APPROVALS: 'charge_card=ask', APPROVAL_TIMEOUT: '0' });
  }, 120_000);
  afterAll(async () => {
    await servers.stopAll();
    await drop();
  });

  /** Sends `/tool charge_card` on `server` and waits until its turn awaits approval. */
  async function awaitingCall(server: ServerProcess, label: string): Promise<{ id: string; conversationId: string; callId: string }> {
    const session = await servers.newSession(server);
    const sent = await servers.call(server, 'POST', `/v1/conversations/${session.conversationId}/messages`, {
      content: `/tool charge_card {"label": "${label}"}`,
    });
    expect(sent.status).toBe(202);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const [turn] = await query<{ status: string }>(url, 'select status from turns where session_id = $1', [session.id]);
      if (turn?.status === 'awaiting_approval') break;
      if (Date.now() > deadline) throw new Error(`the turn is ${turn?.status}, not awaiting approval`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const pending = await servers.call<{ approvals: Array<{ sessionId: string; callId: string; tool: string; status: string }> }>(
      server,
      'GET',
      `/v1/approvals?sessionId=${session.id}`,
    );
    expect(pending.json.approvals).toHaveLength(1);
    expect(pending.json.approvals[0]).toMatchObject({ tool: 'charge_card', status: 'pending' });
    return { ...session, callId: pending.json.approvals[0]!.callId };
  }

  async function finishedTranscript(server: ServerProcess, session: { id: string; conversationId: string }) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const [turn] = await query<{ status: string }>(url, 'select status from turns where session_id = $1', [session.id]);
      if (turn?.status === 'completed') break;
      if (Date.now() > deadline) throw new Error(`the turn is ${turn?.status}, not completed`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const { json } = await servers.call<{ messages: Array<{ role: string; toolResult: unknown; isError: boolean }> }>(
      server,
      'GET',
      `/v1/conversations/${session.conversationId}/messages`,
    );
    return json.messages;
  }

  const effectsOf = (sessionId: string) => [...servers.effects().entries()].filter(([key]) => key.startsWith(`${sessionId}:`));

  it('a call awaiting approval survives SIGKILL of its instance; approved on another instance, it runs once', async () => {
    const doomed = await servers.start({ CUSTOM_TOOL_APPROVALS: 'charge_card=ask', APPROVAL_TIMEOUT: '0' });
    const session = await awaitingCall(doomed, 'killed');
    // The session keeps running, shows the wait, and refuses a new message while it lasts.
    const shown = await servers.call<{ session: { status: string; activeTurn: { status: string } } }>(
      doomed,
      'GET',
      `/v1/sessions/${session.id}`,
    );
    expect(shown.json.session).toMatchObject({ status: 'running', activeTurn: { status: 'awaiting_approval' } });
    const refused = await servers.call<{ error: { code: string } }>(
      doomed,
      'POST',
      `/v1/conversations/${session.conversationId}/messages`,
      {
        content: 'hello?',
      },
    );
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe('APPROVAL_PENDING');
    // No lease is held while waiting.
    const [held] = await query<{ lease_owner: string | null }>(url, 'select lease_owner from turns where session_id = $1', [session.id]);
    expect(held!.lease_owner).toBeNull();

    await servers.kill(doomed);
    const still = await servers.call<{ approvals: Array<{ callId: string }> }>(survivor, 'GET', `/v1/approvals?sessionId=${session.id}`);
    expect(still.json.approvals.map((a) => a.callId)).toEqual([session.callId]);
    expect(effectsOf(session.id)).toHaveLength(0);

    const approved = await servers.call(survivor, 'POST', `/v1/sessions/${session.id}/approvals/${session.callId}`, { action: 'approve' });
    expect(approved.status, JSON.stringify(approved.json)).toBe(200);
    const transcript = await finishedTranscript(survivor, session);
    expect(transcript.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(transcript[2]).toMatchObject({ isError: false, toolResult: { label: 'killed', applied: true } });
    expect(effectsOf(session.id)).toHaveLength(1);
    const audit = await query<{ details: { outcome: string; edited: boolean } }>(
      url,
      `select details from audit_log where action = 'tool.approval_decided' and details->>'sessionId' = $1`,
      [session.id],
    );
    expect(audit.map((a) => a.details)).toEqual([expect.objectContaining({ outcome: 'approved', edited: false })]);
  }, 120_000);

  it('two racing decisions: one wins, the other answers 409 with the first one’s outcome', async () => {
    const session = await awaitingCall(survivor, 'raced');
    const path = `/v1/sessions/${session.id}/approvals/${session.callId}`;
    const answers = await Promise.all([
      servers.call<{ error?: { code: string; details: { outcome: string } } }>(survivor, 'POST', path, { action: 'approve' }),
      servers.call<{ error?: { code: string; details: { outcome: string } } }>(survivor, 'POST', path, { action: 'deny', note: 'no' }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const lost = answers.find((a) => a.status === 409)!;
    const won = answers.indexOf(answers.find((a) => a.status === 200)!) === 0 ? 'approved' : 'denied';
    expect(lost.json.error).toMatchObject({ code: 'APPROVAL_DECIDED', details: { outcome: won } });
    await finishedTranscript(survivor, session);
    expect(effectsOf(session.id)).toHaveLength(won === 'approved' ? 1 : 0);
  }, 60_000);

  it('a denial does not run the call, and the model reads the note as its result; an edit runs with the edited arguments', async () => {
    const denied = await awaitingCall(survivor, 'denied');
    const answer = await servers.call(survivor, 'POST', `/v1/sessions/${denied.id}/approvals/${denied.callId}`, {
      action: 'deny',
      note: 'Do not charge this card.',
    });
    expect(answer.status).toBe(200);
    const transcript = await finishedTranscript(survivor, denied);
    expect(transcript[2]).toMatchObject({ isError: true, toolResult: { code: 'TOOL_DENIED', message: 'Do not charge this card.' } });
    expect(effectsOf(denied.id)).toHaveLength(0);

    const edited = await awaitingCall(survivor, 'original');
    const bad = await servers.call(survivor, 'POST', `/v1/sessions/${edited.id}/approvals/${edited.callId}`, {
      action: 'approve',
      arguments: { label: 42 },
    });
    expect(bad.status).toBe(400);
    const good = await servers.call<{ approval: { edited: boolean } }>(
      survivor,
      'POST',
      `/v1/sessions/${edited.id}/approvals/${edited.callId}`,
      {
        action: 'approve',
        arguments: { label: 'edited' },
      },
    );
    expect(good.json.approval.edited).toBe(true);
    const after = await finishedTranscript(survivor, edited);
    expect(after[2]).toMatchObject({ toolResult: { label: 'edited', applied: true } });
  }, 60_000);

  it('a wait that expires denies the call with a note saying so, and the turn goes on', async () => {
    const hasty = await servers.start({ CUSTOM_TOOL_APPROVALS: 'charge_card=ask', APPROVAL_TIMEOUT: '1s' });
    try {
      const session = await awaitingCall(hasty, 'expired');
      const transcript = await finishedTranscript(hasty, session);
      expect(transcript[2]).toMatchObject({ isError: true, toolResult: { code: 'APPROVAL_EXPIRED' } });
      expect(effectsOf(session.id)).toHaveLength(0);
    } finally {
      await servers.kill(hasty);
    }
  }, 60_000);
});
