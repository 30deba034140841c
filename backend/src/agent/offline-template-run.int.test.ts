import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeMcpServer, type FakeMcpServer } from '../../test/fake-mcp-server.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

const template = {
  slug: 'inbox-and-agenda',
  name: 'Inbox and agenda',
  description: 'Reads the mail and the calendar, and mails a note.',
  category: 'Productivity',
  systemPrompt: 'Help with mail and meetings about {{topic}}.',
  userPrompt: 'Go through my mail and calendar about {{topic}}.',
  variables: [
    { name: 'topic', type: 'string', required: true },
    { name: 'recipient', type: 'string', required: true, description: 'Who gets the note.' },
  ],
  integrations: { required: ['mail', 'cal'] },
  steps: [
    { instruction: 'List my unread mail.', tools: ['mail__list_unread'] },
    { instruction: 'Look up the events about {{topic}}.', tools: ['cal__search'] },
    { instruction: 'Write a note of what needs doing.' },
    { instruction: 'Mail the note to {{recipient}}.', tools: ['mail__send_email'] },
  ],
};

/**
 * A template session with no language model: `local:offline` follows the template's steps against
 * MCP servers on 127.0.0.1, calling each step's tool once, and the run ends `completed`.
 */
describe('a template run with the offline responder (MCP servers on 127.0.0.1)', () => {
  let mail: FakeMcpServer;
  let calendar: FakeMcpServer;
  let t: TestApp;
  let dir: string;

  const call = (method: 'GET' | 'POST', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: bearer(t.userToken), ...(payload === undefined ? {} : { payload: payload as object }) });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-walk-'));
    mail = await startFakeMcpServer('mail', { accepts: (token) => token === 'mail-key' });
    calendar = await startFakeMcpServer('calendar', { accepts: (token) => token === 'cal-key' });
    const catalogue = path.join(dir, 'integrations.yaml');
    fs.writeFileSync(
      catalogue,
      `providers:
  - { id: mail, name: Mail, auth: { type: api_key }, mcp: { transport: streamable-http, url: '${mail.url}' }, approvals: [{ tool: '*', decision: allow }] }
  - { id: cal, name: Calendar, auth: { type: api_key }, mcp: { transport: streamable-http, url: '${calendar.url}' }, approvals: [{ tool: '*', decision: allow }] }
`,
    );
    t = await createTestApp('pglite', {
      INTEGRATIONS_CATALOGUE: catalogue,
      OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
      INTEGRATIONS_HEALTH_INTERVAL_MS: '0',
    });
  }, 60_000);

  afterAll(async () => {
    await t.close();
    await mail.close();
    await calendar.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("calls each step's tool once with inputs from its schema and the variables, then completes the session", async () => {
    expect((await call('POST', '/v1/integrations/mail/connect', { apiKey: 'mail-key' })).statusCode).toBe(201);
    expect((await call('POST', '/v1/integrations/cal/connect', { apiKey: 'cal-key' })).statusCode).toBe(201);
    const templateId = (await call('POST', '/v1/templates', template)).json().template.id;
    const started = await call('POST', '/v1/sessions', { templateId, variables: { topic: 'the launch', recipient: 'ana@example.org' } });
    expect(started.statusCode, started.body).toBe(201);
    const session = started.json().session as { id: string; conversationId: string; userPrompt: string };

    const sent = await call('POST', `/v1/conversations/${session.conversationId}/messages?wait=true`, { content: session.userPrompt });
    expect(sent.json().turn, sent.body).toMatchObject({ status: 'completed' });

    expect(Object.fromEntries(mail.calls)).toEqual({ list_unread: 1, send_email: 1 });
    expect(Object.fromEntries(calendar.calls)).toEqual({ search: 1 });
    expect(mail.sent).toEqual([{ to: 'ana@example.org', subject: expect.any(String), key: expect.any(String) }]);

    const read = (await call('GET', `/v1/sessions/${session.id}`)).json().session;
    expect(read.status).toBe('completed');
    const transcript = (await call('GET', `/v1/conversations/${session.conversationId}/messages`)).json().messages as Array<{
      role: string;
      content: string;
      toolCalls?: Array<{ tool: string }>;
    }>;
    const calls = transcript.flatMap((m) => (m.toolCalls ?? []).map((c) => c.tool));
    expect(calls).toEqual(['mail__list_unread', 'cal__search', 'mail__send_email', 'complete_session']);
    const last = transcript.filter((m) => m.role === 'assistant').at(-1)!;
    expect(last.content).toContain('4. Mail the note to ana@example.org: mail__send_email answered');
  });
});
