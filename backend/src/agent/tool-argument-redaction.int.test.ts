import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';

describe.each(drivers)('tool arguments shown to clients on %s (local:offline)', (driver) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(driver);
  });
  afterAll(async () => {
    await t.close();
  });

  const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: bearer(t.userToken), ...(payload ? { payload } : {}) });

  it('are redacted in the tool.started event and in the transcript, as in integration.tool_used', async () => {
    const apiKey = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234';
    const session = (await call('POST', '/v1/sessions', {})).json().session as { id: string; conversationId: string };
    const args = { query: 'refunds, with password=hunter2 please', apiKey, nested: { password: 'hunter2', limit: 3 } };
    const sent = await call('POST', `/v1/conversations/${session.conversationId}/messages?wait=true`, {
      content: `/tool knowledge_search ${JSON.stringify(args)}`,
    });
    expect(sent.statusCode, sent.body).toBe(200);
    const shown = { query: 'refunds, with password=[REDACTED] please', apiKey: '[REDACTED]', nested: { password: '[REDACTED]', limit: 3 } };

    const events = await call('GET', `/v1/events?topic=session:${session.id}&types=tool.started`);
    expect(events.json().events.map((e: { data: { tool: string; arguments: unknown } }) => e.data)).toEqual([
      expect.objectContaining({ tool: 'knowledge_search', arguments: shown }),
    ]);

    const transcript = await call('GET', `/v1/conversations/${session.conversationId}/messages`);
    const calls = transcript.json().messages.flatMap((m: { toolCalls: Array<{ tool: string; input: unknown }> }) => m.toolCalls);
    expect(calls).toEqual([expect.objectContaining({ tool: 'knowledge_search', input: shown })]);

    // Nowhere in either answer (the user's own message, which held them, is not a tool call).
    for (const body of [events.body, JSON.stringify(calls)]) {
      expect(body).not.toContain('hunter2');
      expect(body).not.toContain(apiKey);
    }
  });
});
