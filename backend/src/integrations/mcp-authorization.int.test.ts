import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeMcpAuthorization, type FakeMcpAuthorization } from '../../test/fake-mcp-authorization.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import { parseKeyring } from '../secret-key.ts';
import { CredentialVault } from './credential-vault.ts';
import { rotateCredentials } from './key-rotation.ts';

const publicUrl = 'http://agentry.test';
const redirectUri = `${publicUrl}/v1/oauth/callback`;

/**
 * MCP's own authorization, as a user meets it: hosted MCP servers (the MCP SDK's server pieces on
 * 127.0.0.1) whose authorization servers register clients dynamically, connected with no client
 * id configured, through the app's connect route and callback with the browser binding.
 */
describe.each(drivers)('MCP authorization on %s (MCP and authorization servers on 127.0.0.1)', (driver) => {
  let pages: FakeMcpAuthorization;
  let refusing: FakeMcpAuthorization;
  let closed: FakeMcpAuthorization;
  let t: TestApp;
  let dir: string;
  let secondUser: { token: string; id: string };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-mcp-auth-'));
    [pages, refusing, closed] = await Promise.all([
      startFakeMcpAuthorization(),
      startFakeMcpAuthorization({ registration: 'refuse' }),
      startFakeMcpAuthorization({ registration: 'absent' }),
    ]);
    const catalogue = path.join(dir, 'integrations.yaml');
    const entry = (id: string, variable: string) =>
      `  - id: ${id}\n    name: ${id}\n    auth: { type: mcp }\n    mcp: { transport: streamable-http, url: '\${${variable}}' }\n`;
    fs.writeFileSync(
      catalogue,
      `providers:\n${entry('pages', 'PAGES_MCP_URL')}${entry('refusing', 'REFUSING_MCP_URL')}${entry('closed', 'CLOSED_MCP_URL')}`,
    );
    t = await createTestApp(driver, {
      PUBLIC_URL: publicUrl,
      INTEGRATIONS_CATALOGUE: catalogue,
      PAGES_MCP_URL: pages.mcpUrl,
      REFUSING_MCP_URL: refusing.mcpUrl,
      CLOSED_MCP_URL: closed.mcpUrl,
      INTEGRATIONS_HEALTH_INTERVAL_MS: '0',
      OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
    });
    const created = await t.runtime.users.create({ email: 'second@example.test' }, { userId: null, ip: null });
    secondUser = { token: created.token, id: created.user.id };
  });
  afterAll(async () => {
    await t.close();
    await Promise.all([pages.close(), refusing.close(), closed.close()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Connects as a browser would: the connect answer's cookie, the provider's consent, the callback. */
  async function connect(provider: string, token = t.userToken) {
    const started = await t.app.inject({ method: 'POST', url: `/v1/integrations/${provider}/connect`, headers: bearer(token) });
    expect(started.statusCode, started.body).toBe(200);
    const authorizationUrl = new URL(started.json<{ authorizationUrl: string }>().authorizationUrl);
    const consent = await fetch(authorizationUrl, { redirect: 'manual' });
    const back = new URL(consent.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
    const callback = await t.app.inject({
      method: 'GET',
      url: `${back.pathname}${back.search}`,
      cookies: Object.fromEntries(started.cookies.map((c) => [c.name, c.value])),
    });
    expect(callback.statusCode, callback.body).toBe(303);
    return { authorizationUrl, callback };
  }

  const registrationRows = () => t.runtime.database.db.selectFrom('oauth_client_registrations').selectAll().execute();
  const searchPages = async (userId = t.userId) => {
    const [tool] = await t.runtime.integrationTools.forSession(userId, ['pages__search_pages']);
    expect(tool, 'the pages tool is listed').toBeDefined();
    return tool!.execute({ query: 'roadmap' });
  };

  it('connects with no client id: Agentry registers itself once, asks with PKCE S256 and the resource, and a second user reuses the registration', async () => {
    const { authorizationUrl } = await connect('pages');
    expect(authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizationUrl.searchParams.get('resource')).toBe(pages.mcpUrl);
    expect(pages.registrations).toEqual([
      {
        clientName: 'Agentry',
        redirectUris: [redirectUri],
        grantTypes: ['authorization_code', 'refresh_token'],
        authMethod: 'client_secret_post',
      },
    ]);
    expect(pages.authorizeResources).toEqual([pages.mcpUrl]);
    expect(pages.tokenRequests).toEqual([
      { grant: 'authorization_code', resource: pages.mcpUrl, clientId: authorizationUrl.searchParams.get('client_id') },
    ]);

    await connect('pages', secondUser.token);
    expect(pages.registrations).toHaveLength(1);
    expect(new Set(pages.tokenRequests.map((r) => r.clientId)).size).toBe(1);

    // Stored once, sealed: the client secret is not in the row.
    const rows = await registrationRows();
    expect(rows.map((r) => ({ issuer: r.issuer, redirect: r.redirect_uri }))).toEqual([{ issuer: pages.issuer, redirect: redirectUri }]);
    expect(Buffer.from(rows[0]!.registration).toString('latin1')).not.toContain('client_secret');

    const listed = await t.app.inject({ method: 'GET', url: '/v1/integrations', headers: bearer(t.userToken) });
    const entry = listed
      .json<{ integrations: Array<{ provider: string; authType: string; connection: { status: string } | null }> }>()
      .integrations.find((i) => i.provider === 'pages');
    expect(entry).toMatchObject({ authType: 'oauth2', connection: { status: 'connected' } });
    expect(listed.body).not.toMatch(/at-[0-9a-f]{32}|rt-[0-9a-f]{32}/);
  });

  it("lists and calls the server's tools with the token, and refreshes an expired one with the resource", async () => {
    const discovered = await t.app.inject({ method: 'POST', url: '/v1/integrations/discover', headers: bearer(t.userToken), payload: {} });
    expect(discovered.statusCode, discovered.body).toBe(200);
    expect(discovered.body).toContain('pages__search_pages');
    expect(JSON.stringify(await searchPages())).toContain('Found \\"Roadmap\\" for roadmap');

    pages.expireTokens();
    const before = pages.tokenRequests.length;
    expect(JSON.stringify(await searchPages())).toContain('Roadmap');
    // The second user's client may renew too (its notification stream reconnects): every refresh names the resource.
    const refreshes = pages.tokenRequests.slice(before);
    expect(refreshes.length).toBeGreaterThanOrEqual(1);
    expect(refreshes).toEqual(
      refreshes.map(() => ({ grant: 'refresh_token', resource: pages.mcpUrl, clientId: pages.tokenRequests[0]!.clientId })),
    );
    expect(pages.calls).toEqual(['search_pages:roadmap', 'search_pages:roadmap']);
  });

  it('a refused registration is a clear error, and nothing is stored', async () => {
    const started = await t.app.inject({ method: 'POST', url: '/v1/integrations/refusing/connect', headers: bearer(t.userToken) });
    expect(started.statusCode).toBe(502);
    expect(started.json()).toMatchObject({
      error: {
        code: 'OAUTH_PROVIDER_ERROR',
        message: expect.stringContaining('refused to register Agentry as a client (invalid_client_metadata)'),
      },
    });
    expect(started.cookies).toEqual([]);
    expect(refusing.registrations).toHaveLength(1);
    expect((await registrationRows()).map((r) => r.issuer)).not.toContain(refusing.issuer);
    const states = await t.runtime.database.db.selectFrom('oauth_states').select('provider').where('provider', '=', 'refusing').execute();
    expect(states).toEqual([]);
  });

  it('an authorization server without registration, and no client id configured, is a clear error', async () => {
    const started = await t.app.inject({ method: 'POST', url: '/v1/integrations/closed/connect', headers: bearer(t.userToken) });
    expect(started.statusCode).toBe(502);
    expect(started.json()).toMatchObject({
      error: { code: 'MCP_AUTHORIZATION_UNSUPPORTED', message: expect.stringContaining('does not offer dynamic client registration') },
    });
    expect(await t.runtime.database.db.selectFrom('oauth_states').select('provider').where('provider', '=', 'closed').execute()).toEqual(
      [],
    );
  });

  it('a registration the server forgot is dropped, and connecting again registers once more', async () => {
    pages.forgetClients();
    pages.expireTokens();
    await expect(searchPages(secondUser.id)).rejects.toMatchObject({ code: 'CONNECTION_BROKEN' });
    expect(await registrationRows()).toEqual([]);
    await connect('pages', secondUser.token);
    expect(pages.registrations).toHaveLength(2);
    expect(await registrationRows()).toHaveLength(1);
    expect(JSON.stringify(await searchPages(secondUser.id))).toContain('Roadmap');
  });

  it('a key rotation re-seals the registrations, so they open under the new key', async () => {
    const current = t.config.secretKey ?? fs.readFileSync(path.join(t.config.dataDir, 'secret.key'), 'utf8').trim();
    const vault = new CredentialVault(parseKeyring(`${Buffer.alloc(32, 7).toString('base64')},${current}`));
    const [before] = await registrationRows();
    expect(before!.registration_key_id).not.toBe(vault.currentKeyId);
    await rotateCredentials(t.runtime.database, vault);
    const [after] = await registrationRows();
    expect(after!.registration_key_id).toBe(vault.currentKeyId);
    const newOnly = new CredentialVault(parseKeyring(Buffer.alloc(32, 7).toString('base64')));
    const opened = newOnly.openRegistration(
      { issuer: pages.issuer, redirectUri },
      { keyId: after!.registration_key_id, sealed: Buffer.from(after!.registration) },
    );
    expect(opened).toMatchObject({ client_name: 'Agentry', redirect_uris: [redirectUri] });
  });
});
