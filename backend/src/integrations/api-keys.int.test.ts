import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeMcpServer, type FakeMcpServer } from '../../test/fake-mcp-server.ts';
import { startFakeSlackApi, type FakeSlackApi } from '../../test/fakes/fake-slack-api.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

/**
 * Connecting with a key where a provider takes one: an entry that signs in (its OAuth app not set
 * up here) and also takes a key, on a remote MCP server and on the built-in Slack server.
 */
function writeCatalogue(dir: string, mcpUrl: string, slackUrl: string): string {
  const file = path.join(dir, 'integrations.yaml');
  fs.writeFileSync(
    file,
    `providers:
  - id: hub
    name: Hub
    auth: { type: oauth2, authorizationUrl: 'https://hub.invalid/a', tokenUrl: 'https://hub.invalid/t', clientId: '\${HUB_CLIENT_ID}', clientSecret: '\${HUB_CLIENT_SECRET}' }
    apiKey: { label: Personal access token, help: Make one in your settings., docs: 'https://hub.invalid/tokens' }
    mcp: { transport: streamable-http, url: '${mcpUrl}' }
  - id: slack
    name: Slack
    auth: { type: oauth2, authorizationUrl: 'https://slack.invalid/a', tokenUrl: 'https://slack.invalid/t', revocationUrl: '${slackUrl}/auth.revoke', clientId: '\${SLACK_CLIENT_ID}', clientSecret: '\${SLACK_CLIENT_SECRET}' }
    apiKey: { label: Bot token }
    mcp: { transport: builtin, server: slack, apiUrl: '${slackUrl}' }
  - id: signin
    name: Sign-in only
    auth: { type: oauth2, authorizationUrl: 'https://s.invalid/a', tokenUrl: 'https://s.invalid/t', clientId: '\${SIGNIN_CLIENT_ID}', clientSecret: x }
    mcp: { transport: streamable-http, url: '${mcpUrl}' }
`,
  );
  return file;
}

interface Listing {
  provider: string;
  authType: string;
  available: boolean;
  methods: Array<{ type: string; available: boolean; unavailableReason: string | null }>;
  apiKey: { label: string; help: string | null; docs: string | null } | null;
  connection: { id: string; authType: string; status: string; scopes: string | null } | null;
}

describe('connecting with a key (embedded database, MCP server and Slack API on 127.0.0.1)', () => {
  const goodKey = `hubkey-${Math.random().toString(36).slice(2)}-good`;
  let mcp: FakeMcpServer;
  let slack: FakeSlackApi;
  let t: TestApp;
  let dir: string;

  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url, headers: bearer(t.userToken), ...(payload ? { payload } : {}) });
  const listing = async () => (await call('GET', '/v1/integrations')).json<{ integrations: Listing[] }>().integrations;
  const rows = () => t.runtime.database.db.selectFrom('integration_connections').selectAll().execute();
  const everythingSaid = async () =>
    JSON.stringify([
      await t.runtime.database.db.selectFrom('events').select('data').execute(),
      await t.runtime.database.db.selectFrom('audit_log').select('details').execute(),
    ]);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-api-keys-'));
    mcp = await startFakeMcpServer('mail', { accepts: (token) => token === goodKey });
    slack = await startFakeSlackApi();
    t = await createTestApp('pglite', {
      INTEGRATIONS_CATALOGUE: writeCatalogue(dir, mcp.url, slack.url),
      INTEGRATIONS_HEALTH_INTERVAL_MS: '0',
      OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
    });
  });
  afterAll(async () => {
    await t.close();
    await mcp.close();
    await slack.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists both ways for an entry that takes a key, a key available while the OAuth app is not set up', async () => {
    const [hub, , signin] = await listing();
    expect(hub).toMatchObject({
      provider: 'hub',
      authType: 'oauth2',
      available: true,
      apiKey: { label: 'Personal access token', help: 'Make one in your settings.', docs: 'https://hub.invalid/tokens' },
      methods: [
        { type: 'oauth2', available: false, unavailableReason: expect.stringMatching(/HUB_CLIENT_ID/) },
        { type: 'api_key', available: true, unavailableReason: null },
      ],
    });
    expect(signin).toMatchObject({ available: false, apiKey: null, methods: [{ type: 'oauth2', available: false }] });
    // Signing in is refused for want of the app; a key for an entry that takes none, as before.
    expect((await call('POST', '/v1/integrations/hub/connect')).json().error.code).toBe('INTEGRATION_NOT_CONFIGURED');
    expect((await call('POST', '/v1/integrations/signin/connect', { apiKey: goodKey })).statusCode).toBe(409);
  });

  it('refuses a key the server refuses (422) or that is malformed (400), and stores nothing', async () => {
    const refused = await call('POST', '/v1/integrations/hub/connect', { apiKey: 'hubkey-wrong' });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error).toMatchObject({ code: 'INTEGRATION_KEY_REJECTED', message: expect.stringMatching(/Hub refused the key/) });
    expect(refused.body).not.toContain('hubkey-wrong');
    for (const apiKey of ['   ', 'two words', 'caf\u00e9-key', 'k'.repeat(1025)]) {
      const response = await call('POST', '/v1/integrations/hub/connect', { apiKey });
      expect(response.statusCode, apiKey).toBe(400);
      expect(response.json().error.code).toBe('VALIDATION_FAILED');
    }
    expect(await rows()).toEqual([]);
    expect(await everythingSaid()).not.toContain('hubkey-wrong');
    expect((await listing())[0]!.connection).toBeNull();
  });

  it('connects with a good key (trimmed), whose tools then work, and never shows the key again', async () => {
    const connected = await call('POST', '/v1/integrations/hub/connect', { apiKey: `  ${goodKey}\n` });
    expect(connected.statusCode).toBe(201);
    expect(connected.json().connection).toMatchObject({ provider: 'hub', authType: 'api_key', status: 'connected', scopes: null });
    const discovered = await call('POST', '/v1/integrations/discover', { forceRefresh: true });
    expect(discovered.json().integrations[0].tools.map((tool: { name: string }) => tool.name)).toContain('hub__list_unread');
    const tool = (await t.runtime.integrationTools.forSession(t.userId, ['hub__list_unread']))[0]!;
    expect(await tool.execute({})).toMatchObject({ text: expect.stringContaining('Quarterly numbers') });
    expect(mcp.tokens).toEqual(new Set([goodKey]));
    const shown = [connected.body, discovered.body, JSON.stringify(await listing()), await everythingSaid()].join('\n');
    expect(shown).not.toContain(goodKey);
    expect((await listing())[0]!.connection).toMatchObject({ authType: 'api_key', status: 'connected' });
  });

  it('connects Slack with a bot token through the built-in server, proved by auth.test first', async () => {
    const refused = await call('POST', '/v1/integrations/slack/connect', { apiKey: 'xoxb-not-a-token' });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.code).toBe('INTEGRATION_KEY_REJECTED');
    expect((await rows()).map((row) => row.provider)).toEqual(['hub']);

    const token = slack.issueToken('bot');
    const general = slack.addChannel({ name: 'general' });
    const connected = await call('POST', '/v1/integrations/slack/connect', { apiKey: token });
    expect(connected.statusCode).toBe(201);
    expect(slack.requests.filter((r) => r.method === 'auth.test').map((r) => r.token)).toEqual(['xoxb-not-a-token', token]);
    await call('POST', '/v1/integrations/discover', { forceRefresh: true });
    const list = (await t.runtime.integrationTools.forSession(t.userId, ['slack__list_channels']))[0]!;
    expect(JSON.stringify(await list.execute({}))).toContain(general.id);
    expect(slack.requests.at(-1)).toMatchObject({ method: 'conversations.list', token });
    expect([connected.body, JSON.stringify(await listing()), await everythingSaid()].join('\n')).not.toContain(token);

    // Disconnecting forgets the token here; it is not sent to the OAuth app's revocation endpoint.
    const revoked = await call('DELETE', `/v1/integrations/${connected.json().connection.id}`);
    expect(revoked.json()).toEqual({ revoked: false });
    expect(slack.requests.some((r) => r.method === 'auth.revoke')).toBe(false);
  });
});
