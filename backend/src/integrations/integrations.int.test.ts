import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeMcpServer, type FakeMcpServer } from '../../test/fake-mcp-server.ts';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../test/fake-oauth-server.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { backupDatabase, PostgresDatabase } from '../database/index.ts';
import { buildApp, logRedactions } from '../server/index.ts';
import { CredentialVault } from './credential-vault.ts';
import { CredentialsRejected } from './connection-credentials.ts';
import { IntegrationService } from './integration-service.ts';
import { OutboundGuard } from './outbound-guard.ts';
import { ToolRegistry } from './tool-registry.ts';
import { parseKeyring } from '../secret-key.ts';

const publicUrl = 'http://agentry.test';

/** A catalogue with one OAuth provider at the fake server, one not set up, and one that takes the user's own MCP URL. */
function writeCatalogue(dir: string): string {
  const file = path.join(dir, 'integrations.yaml');
  fs.writeFileSync(
    file,
    `providers:
  - id: acme
    name: Acme <Mail>
    auth:
      type: oauth2
      authorizationUrl: \${ACME_URL}/authorize
      tokenUrl: \${ACME_URL}/token
      revocationUrl: \${ACME_URL}/revoke
      scopes: [read, write]
      clientId: \${ACME_CLIENT_ID}
      clientSecret: \${ACME_CLIENT_SECRET}
      tokenTypes: [bot]
    mcp: { transport: streamable-http, url: '\${ACME_MCP_URL}' }
  - id: unset
    name: Not set up
    auth: { type: oauth2, authorizationUrl: 'https://example.invalid/a', tokenUrl: 'https://example.invalid/t', clientId: '\${UNSET_CLIENT_ID}', clientSecret: x }
    mcp: { transport: streamable-http, url: 'https://example.invalid/mcp' }
  - id: byo
    name: Your own
    auth: { type: api_key }
    mcp: { transport: streamable-http, url: user }
`,
  );
  return file;
}

async function startApp(
  driver: 'pglite' | 'postgres',
  oauth: FakeOAuthServer,
  mcp: FakeMcpServer,
  dir: string,
  env: Record<string, string> = {},
): Promise<TestApp> {
  return createTestApp(driver, {
    PUBLIC_URL: publicUrl,
    INTEGRATIONS_CATALOGUE: writeCatalogue(dir),
    ACME_URL: oauth.url,
    ACME_MCP_URL: mcp.url,
    INTEGRATIONS_HEALTH_INTERVAL_MS: '0',
    ACME_CLIENT_ID: oauth.clientId,
    ACME_CLIENT_SECRET: oauth.clientSecret,
    OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
    INTEGRATIONS_ALLOW_USER_MCP_URLS: 'true',
    ...env,
  });
}

/**
 * Starts connecting as `token` (as a browser would: the connect response sets the binding
 * cookie), lets the fake provider consent, and returns where the provider sends the browser back
 * and the cookie that browser holds.
 */
async function authorize(t: TestApp, token: string): Promise<{ url: string; cookies: Record<string, string> }> {
  const started = await t.app.inject({ method: 'POST', url: '/v1/integrations/acme/connect', headers: bearer(token) });
  expect(started.statusCode).toBe(200);
  expect(started.cookies[0]).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/v1/oauth/callback' });
  const consent = await fetch(started.json<{ authorizationUrl: string }>().authorizationUrl, { redirect: 'manual' });
  const back = new URL(consent.headers.get('location')!);
  expect(`${back.origin}${back.pathname}`).toBe(`${publicUrl}/v1/oauth/callback`);
  return { url: `${back.pathname}${back.search}`, cookies: Object.fromEntries(started.cookies.map((c) => [c.name, c.value])) };
}

/** The browser comes back to the callback. */
const callBack = (t: TestApp, { url, cookies }: { url: string; cookies: Record<string, string> }, headers: Record<string, string> = {}) =>
  t.app.inject({ method: 'GET', url, cookies, headers });

async function connect(t: TestApp, token = t.userToken): Promise<string> {
  const callback = await callBack(t, await authorize(t, token));
  expect(callback.statusCode).toBe(303);
  const listed = await t.app.inject({ method: 'GET', url: '/v1/integrations', headers: bearer(token) });
  return listed
    .json<{ integrations: Array<{ provider: string; connection: { id: string } | null }> }>()
    .integrations.find((i) => i.provider === 'acme')!.connection!.id;
}

/** What a second IntegrationService over the test app's database needs, but its guard. */
const serviceDeps = (t: TestApp) => ({
  database: t.runtime.database,
  bus: t.runtime.events.bus,
  catalogue: t.config.integrations.catalogue,
  vault: new CredentialVault(parseKeyring(t.config.secretKey ?? fs.readFileSync(path.join(t.config.dataDir, 'secret.key'), 'utf8').trim())),
  registry: new ToolRegistry(t.runtime.database, t.runtime.events.bus),
  publicUrl,
  checkKey: () => Promise.reject(new Error('this service takes no keys')),
});

const eventsOf = (t: TestApp, type: string) =>
  t.runtime.database.db.selectFrom('events').select(['type', 'data', 'user_id']).where('type', '=', type).execute();
const auditOf = (t: TestApp, action: string) =>
  t.runtime.database.db.selectFrom('audit_log').selectAll().where('action', '=', action).execute();
const connectionRow = (t: TestApp, id: string) =>
  t.runtime.database.db.selectFrom('integration_connections').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

describe('connecting integrations (embedded database, OAuth server on 127.0.0.1)', () => {
  let oauth: FakeOAuthServer;
  let mcp: FakeMcpServer;
  let t: TestApp;
  let dir: string;
  let otherToken: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-integrations-'));
    oauth = await startFakeOAuthServer({ redirectUri: `${publicUrl}/v1/oauth/callback` });
    // It takes the provider's tokens, and the users' own keys (checked against it before they are saved).
    mcp = await startFakeMcpServer('mail', {
      accepts: (token) => oauth.accepts(token) || (token.startsWith(oauth.canary) && token.endsWith('key')),
    });
    t = await startApp('pglite', oauth, mcp, dir);
    otherToken = (await t.runtime.users.create({ email: 'other@example.test' }, { userId: null, ip: null })).token;
  });
  afterAll(async () => {
    await t.close();
    await mcp.close();
    await oauth.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    oauth.tokenAnswer = 'ok';
    oauth.tokenType = 'Bearer';
    oauth.accessTokenTtlS = 3600;
    await t.runtime.database.db.deleteFrom('integration_connections').execute();
  });

  it('lists the catalogue with what is set up and what is connected', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/v1/integrations', headers: bearer(t.userToken) });
    expect(response.statusCode).toBe(200);
    const { integrations } = response.json<{ integrations: Array<Record<string, unknown>> }>();
    expect(integrations.map((i) => [i['provider'], i['available'], i['connection']])).toEqual([
      ['acme', true, null],
      ['unset', false, null],
      ['byo', true, null],
    ]);
    expect(integrations[1]!['unavailableReason']).toMatch(/UNSET_CLIENT_ID/);
    const unset = await t.app.inject({ method: 'POST', url: '/v1/integrations/unset/connect', headers: bearer(t.userToken) });
    expect(unset.statusCode).toBe(409);
    expect(unset.json().error.code).toBe('INTEGRATION_NOT_CONFIGURED');
    const unknown = await t.app.inject({ method: 'POST', url: '/v1/integrations/nope/connect', headers: bearer(t.userToken) });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('INTEGRATION_NOT_FOUND');
  });

  it('connects through the authorization code flow with PKCE S256, and records it', async () => {
    const started = await t.app.inject({ method: 'POST', url: '/v1/integrations/acme/connect', headers: bearer(t.userToken) });
    const authorizationUrl = new URL(started.json<{ authorizationUrl: string }>().authorizationUrl);
    expect(`${authorizationUrl.origin}${authorizationUrl.pathname}`).toBe(`${oauth.url}/authorize`);
    expect(Object.fromEntries(authorizationUrl.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: oauth.clientId,
      redirect_uri: `${publicUrl}/v1/oauth/callback`,
      scope: 'read write',
      code_challenge_method: 'S256',
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      state: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });

    const id = await connect(t);
    const row = await connectionRow(t, id);
    expect(row).toMatchObject({ user_id: t.userId, provider: 'acme', status: 'connected', scopes: 'read write' });
    // Sealed: the row holds no token in the clear.
    expect(Buffer.from(row.credentials!).toString('latin1')).not.toContain(oauth.canary);
    expect(await t.runtime.integrations.accessToken(t.userId, id)).toMatch(new RegExp(`^${oauth.canary}`));
    const connected = await eventsOf(t, 'integration.connected');
    expect(connected).toEqual([{ type: 'integration.connected', user_id: t.userId, data: { integrationId: id, provider: 'acme' } }]);
    expect((await auditOf(t, 'integration.connected')).map((a) => a.target_id)).toContain(id);
  });

  it('sends the browser back to the console, naming the provider, and clears the binding cookie', async () => {
    const authorized = await authorize(t, t.userToken);
    const response = await callBack(t, authorized);
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/integrations?connected=acme');
    expect(response.headers['cache-control']).toBe('no-store');
    const [bindingName] = Object.keys(authorized.cookies);
    expect(response.cookies).toContainEqual(
      expect.objectContaining({ name: bindingName, value: '', path: '/v1/oauth/callback', expires: new Date(0) }),
    );
  });

  it('refreshes a token about to expire, storing the rotated refresh token, and again on a 401', async () => {
    oauth.accessTokenTtlS = 30; // inside the minute before expiry: refreshed at the next use
    const id = await connect(t);
    const first = await connectionRow(t, id);
    const before = oauth.refreshes;
    oauth.accessTokenTtlS = 3600;
    const renewed = await t.runtime.integrations.accessToken(t.userId, id);
    expect(oauth.refreshes).toBe(before + 1);
    const row = await connectionRow(t, id);
    expect(row.credentials_version).toBe(first.credentials_version + 1);
    expect(row.refreshed_at).not.toBeNull();
    // The rotated refresh token was kept: the provider forgot the first one, and a second refresh still works.
    oauth.invalidate(renewed);
    const used: string[] = [];
    const result = await t.runtime.integrations.withAccessToken(t.userId, id, async (token) => {
      used.push(token);
      const answer = await fetch(`${oauth.url}/resource`, { headers: { authorization: `Bearer ${token}` } });
      if (answer.status === 401) throw new CredentialsRejected();
      return answer.json();
    });
    expect(result).toEqual({ ok: true });
    expect(used).toHaveLength(2);
    expect(used[0]).toBe(renewed);
    expect(oauth.refreshes).toBe(before + 2);
    const refreshed = await eventsOf(t, 'integration.refreshed');
    expect(refreshed.filter((e) => (e.data as { integrationId: string }).integrationId === id)).toHaveLength(2);
    expect((await auditOf(t, 'integration.refreshed')).filter((a) => a.target_id === id)).toHaveLength(2);
  });

  it('marks the connection in error when the provider refuses the refresh for good', async () => {
    oauth.accessTokenTtlS = 30;
    const id = await connect(t);
    oauth.forgetRefreshTokens();
    await expect(t.runtime.integrations.accessToken(t.userId, id)).rejects.toMatchObject({ code: 'CONNECTION_BROKEN' });
    expect(await connectionRow(t, id)).toMatchObject({ status: 'error', last_error: { code: 'CONNECTION_BROKEN' } });
    const errors = await eventsOf(t, 'integration.error');
    expect(errors.at(-1)?.data).toMatchObject({ integrationId: id, provider: 'acme', code: 'CONNECTION_BROKEN' });
    // A refresh that fails for a while (the provider is down) changes nothing.
    const other = await connect(t, otherToken);
    oauth.tokenAnswer = 'unavailable';
    const otherUser = (await connectionRow(t, other)).user_id;
    await t.runtime.database.db
      .updateTable('integration_connections')
      .set({ token_expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', other)
      .execute();
    await expect(t.runtime.integrations.accessToken(otherUser, other)).rejects.toMatchObject({ code: 'OAUTH_PROVIDER_ERROR' });
    expect(await connectionRow(t, other)).toMatchObject({ status: 'connected', refresh_claimed_by: null });
  });

  it('disconnects: revokes at the provider, deletes the credentials, tells the user', async () => {
    const id = await connect(t);
    const other = await t.app.inject({ method: 'DELETE', url: `/v1/integrations/${id}`, headers: bearer(otherToken) });
    expect(other.statusCode).toBe(404);
    expect(other.json().error.code).toBe('CONNECTION_NOT_FOUND');
    const response = await t.app.inject({ method: 'DELETE', url: `/v1/integrations/${id}`, headers: bearer(t.userToken) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ revoked: true });
    expect(oauth.revoked.at(-1)).toMatch(new RegExp(`^${oauth.canary}`));
    expect(await t.runtime.database.db.selectFrom('integration_connections').select('id').where('id', '=', id).execute()).toEqual([]);
    expect((await eventsOf(t, 'integration.disconnected')).at(-1)?.data).toEqual({
      integrationId: id,
      provider: 'acme',
      reason: 'revoked at the provider',
    });
    expect((await auditOf(t, 'integration.disconnected')).at(-1)).toMatchObject({ target_id: id, actor_user_id: t.userId });
    const again = await t.app.inject({ method: 'DELETE', url: `/v1/integrations/${id}`, headers: bearer(t.userToken) });
    expect(again.statusCode).toBe(404);
  });

  it('refuses a missing, replayed, expired or someone else’s state, and stores nothing', async () => {
    const expectRefused = async (response: Awaited<ReturnType<typeof callBack>>) => {
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('OAUTH_STATE_INVALID');
    };
    await expectRefused(await callBack(t, { url: '/v1/oauth/callback?code=abc', cookies: {} }));
    await expectRefused(await callBack(t, { url: '/v1/oauth/callback?code=abc&state=never-issued', cookies: {} }));

    const replayed = await authorize(t, t.userToken);
    expect((await callBack(t, replayed)).statusCode).toBe(303);
    await expectRefused(await callBack(t, replayed));

    const expired = await authorize(t, otherToken);
    await t.runtime.database.db
      .updateTable('oauth_states')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .execute();
    await expectRefused(await callBack(t, expired));

    // Someone starts connecting and gets another person to open the link and consent: that
    // person's browser does not hold the starter's cookie, so their account is not attached.
    const lured = await authorize(t, otherToken);
    await expectRefused(await callBack(t, { url: lured.url, cookies: {} }));
    const signedInElsewhere = await authorize(t, otherToken);
    await expectRefused(await callBack(t, signedInElsewhere, bearer(t.userToken)));
    // A token that fails is answered as another user's valid one is: no oracle for guesses.
    const badToken = await authorize(t, otherToken);
    await expectRefused(await callBack(t, badToken, { authorization: 'Bearer not-a-token' }));

    const moved = await authorize(t, otherToken);
    await t.runtime.database.db.updateTable('oauth_states').set({ redirect_uri: 'http://agentry.test/v1/oauth/callback/' }).execute();
    await expectRefused(await callBack(t, moved));

    const rows = await t.runtime.database.db.selectFrom('integration_connections').select('user_id').execute();
    expect(rows).toEqual([{ user_id: t.userId }]); // only the one that completed
  });

  it('reports a denial, token endpoint errors and garbage, and stores nothing', async () => {
    const started = await authorize(t, t.userToken);
    const denied = await callBack(t, { ...started, url: started.url.replace(/code=[^&]+/, 'error=access_denied') });
    expect(denied.statusCode).toBe(400);
    expect(denied.json().error.code).toBe('OAUTH_DENIED');
    for (const answer of ['invalid_grant', 'garbage', 'no-token', 'unavailable'] as const) {
      oauth.tokenAnswer = answer;
      const response = await callBack(t, await authorize(t, t.userToken));
      expect(response.statusCode, answer).toBe(502);
      expect(response.json().error.code).toBe('OAUTH_PROVIDER_ERROR');
      expect(response.body).not.toContain('Something went wrong'); // the provider's body is not passed on
    }
    expect(await t.runtime.database.db.selectFrom('integration_connections').select('id').execute()).toEqual([]);
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);

    // The provider's endpoints pass the outbound guard too: without the allow-list, 127.0.0.1 is
    // refused, and the user is not shown the address.
    oauth.tokenAnswer = 'ok';
    const strict = new IntegrationService({ ...serviceDeps(t), guard: new OutboundGuard() });
    const callback = await authorize(t, t.userToken);
    const completing = strict.completeAuthorization(new URLSearchParams(callback.url.split('?')[1]), {
      browserBinding: (name) => callback.cookies[name],
      ip: null,
    });
    const error = await completing.then(
      () => undefined,
      (failure: Error & { code: string }) => failure,
    );
    expect(error).toMatchObject({ code: 'OAUTH_PROVIDER_ERROR', message: expect.stringMatching(/outbound rules/) });
    expect(error?.message).not.toMatch(/127\.0\.0\.1/);
    await strict.close();
  });

  it('takes a provider’s own token type (Slack answers "bot") when its entry names it', async () => {
    oauth.tokenType = 'bot';
    const id = await connect(t);
    expect(await connectionRow(t, id)).toMatchObject({ status: 'connected' });
  });

  it('cannot read credentials moved onto another row', async () => {
    const mine = await connect(t);
    const theirs = await connect(t, otherToken);
    const [a, b] = await Promise.all([connectionRow(t, mine), connectionRow(t, theirs)]);
    await t.runtime.database.db.updateTable('integration_connections').set({ credentials: b.credentials }).where('id', '=', mine).execute();
    await t.runtime.database.db
      .updateTable('integration_connections')
      .set({ credentials: a.credentials })
      .where('id', '=', theirs)
      .execute();
    await expect(t.runtime.integrations.accessToken(t.userId, mine)).rejects.toMatchObject({ code: 'CREDENTIALS_UNREADABLE' });
    await expect(t.runtime.integrations.accessToken(b.user_id, theirs)).rejects.toMatchObject({ code: 'CREDENTIALS_UNREADABLE' });
    // Such a connection can still be removed.
    const removed = await t.app.inject({ method: 'DELETE', url: `/v1/integrations/${mine}`, headers: bearer(t.userToken) });
    expect(removed.statusCode).toBe(200);
    expect(removed.json()).toEqual({ revoked: false });
  });

  it('keeps a reconnect made while a refresh was running', async () => {
    oauth.accessTokenTtlS = 30;
    const id = await connect(t);
    oauth.accessTokenTtlS = 3600;
    oauth.refreshDelayMs = 300;
    const refreshing = t.runtime.integrations.accessToken(t.userId, id).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await connect(t); // the user connects again meanwhile
    const reconnected = await connectionRow(t, id);
    await refreshing;
    oauth.refreshDelayMs = 0;
    const row = await connectionRow(t, id);
    expect(row.credentials_version).toBe(reconnected.credentials_version);
    expect(Buffer.from(row.credentials!).equals(Buffer.from(reconnected.credentials!))).toBe(true);
    expect(row).toMatchObject({ status: 'connected', refresh_claimed_by: null });
  });

  it('connects an API-key integration with the user’s own MCP URL, checked by the outbound guard', async () => {
    const refused = [`http://169.254.169.254/mcp`, 'http://[::ffff:a9fe:a9fe]/mcp', 'http://2852039166/mcp', 'file:///etc/passwd'];
    for (const mcpUrl of refused) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/v1/integrations/byo/connect',
        headers: bearer(t.userToken),
        payload: { apiKey: 'k', mcpUrl },
      });
      expect(response.statusCode, mcpUrl).toBe(400);
      expect(response.json().error.code).toBe('OUTBOUND_REFUSED');
    }
    const missingKey = await t.app.inject({
      method: 'POST',
      url: '/v1/integrations/byo/connect',
      headers: bearer(t.userToken),
      payload: { mcpUrl: `${oauth.url}/mcp` },
    });
    expect(missingKey.statusCode).toBe(400);
    const apiKey = `${oauth.canary}-api-key`;
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/integrations/byo/connect',
      headers: bearer(t.userToken),
      payload: { apiKey, mcpUrl: mcp.url },
    });
    expect(response.statusCode).toBe(201);
    // The URL is sealed with the key; the connection shows only its origin.
    expect(response.json().connection).toMatchObject({
      provider: 'byo',
      status: 'connected',
      authType: 'api_key',
      mcpUrl: new URL(mcp.url).origin,
    });
    expect(response.body).not.toContain(oauth.canary);
    const keyForAcme = await t.app.inject({
      method: 'POST',
      url: '/v1/integrations/acme/connect',
      headers: bearer(t.userToken),
      payload: { apiKey },
    });
    expect(keyForAcme.statusCode).toBe(400);
  });

  it('keeps every credential out of responses, events, the audit log, the server log and a backup', async () => {
    await connect(t);
    await t.app.inject({
      method: 'POST',
      url: '/v1/integrations/byo/connect',
      headers: bearer(t.userToken),
      payload: { apiKey: `${oauth.canary}-key`, mcpUrl: mcp.url },
    });
    const listing = await t.app.inject({ method: 'GET', url: '/v1/integrations', headers: bearer(t.userToken) });
    expect(listing.body).not.toContain(oauth.canary);
    const events = await t.runtime.database.db.selectFrom('events').select('data').execute();
    const audit = await t.runtime.database.db.selectFrom('audit_log').select('details').execute();
    expect(JSON.stringify([events, audit])).not.toContain(oauth.canary);
    // The server's log, at its most talkative, through a whole connect, refresh and disconnect.
    let log = '';
    const logger = pino(
      { level: 'trace', redact: logRedactions },
      new Writable({ write: (chunk: Buffer, _encoding, done) => ((log += chunk.toString()), done()) }),
    );
    const logged = await buildApp(t.runtime, { loggerInstance: logger });
    const callback = await authorize(t, otherToken);
    expect((await logged.inject({ method: 'GET', url: callback.url, cookies: callback.cookies })).statusCode).toBe(303);
    const otherConnection = (await logged.inject({ method: 'GET', url: '/v1/integrations', headers: bearer(otherToken) })).json<{
      integrations: Array<{ connection: { id: string } | null }>;
    }>().integrations[0]!.connection!.id;
    await t.runtime.database.db
      .updateTable('integration_connections')
      .set({ token_expires_at: new Date(0) })
      .where('id', '=', otherConnection)
      .execute();
    await t.runtime.integrations.accessToken((await connectionRow(t, otherConnection)).user_id, otherConnection);
    await logged.inject({ method: 'DELETE', url: `/v1/integrations/${otherConnection}`, headers: bearer(otherToken) });
    await logged.close();
    expect(log).toContain('/v1/oauth/callback');
    expect(log).not.toContain(oauth.canary); // the authorization code included
    expect(log).not.toContain(new URLSearchParams(callback.url.split('?')[1]).get('state'));
    expect(log).not.toContain(Object.values(callback.cookies)[0]);

    const file = path.join(dir, 'backup.sql');
    await backupDatabase(t.runtime.database, file);
    const dump = fs.readFileSync(file, 'latin1');
    expect(dump).toContain('integration_connections');
    expect(dump).not.toContain(oauth.canary);
  });
});

describe('token refresh across instances (PostgreSQL)', () => {
  it('20 concurrent calls with an expired token on two instances refresh once, and every call succeeds', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-integrations-'));
    const oauth = await startFakeOAuthServer({ redirectUri: `${publicUrl}/v1/oauth/callback` });
    const mcp = await startFakeMcpServer('mail', { accepts: (token) => oauth.accepts(token) });
    const t = await startApp('postgres', oauth, mcp, dir);
    const database = await PostgresDatabase.open(t.target, { pool: { max: 10, timeoutMs: 5000, statementTimeoutMs: 0 } });
    const second = new IntegrationService({ ...serviceDeps(t), database, guard: new OutboundGuard({ allowList: ['127.0.0.1'] }) });
    try {
      const id = await connect(t);
      await t.runtime.database.db
        .updateTable('integration_connections')
        .set({ token_expires_at: new Date(Date.now() - 1000) })
        .where('id', '=', id)
        .execute();
      oauth.refreshDelayMs = 200; // the refresh is slow enough that every call arrives while it runs
      const before = oauth.refreshes;
      const used = new Set<string>();
      const calls = Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? t.runtime.integrations : second).withAccessToken(t.userId, id, async (token) => {
          used.add(token);
          const answer = await fetch(`${oauth.url}/resource`, { headers: { authorization: `Bearer ${token}` } });
          if (answer.status === 401) throw new CredentialsRejected();
          return answer.status;
        }),
      );
      expect(await Promise.all(calls)).toEqual(Array(20).fill(200));
      expect(oauth.refreshes).toBe(before + 1);
      expect(used.size).toBe(1); // every call used the one new token
      expect(await connectionRow(t, id)).toMatchObject({ refresh_claimed_by: null, status: 'connected' });
    } finally {
      await second.close();
      await database.close();
      await t.close();
      await mcp.close();
      await oauth.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
