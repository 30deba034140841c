import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { InvalidClientMetadataError, InvalidGrantError, InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { AuthorizationParams, OAuthServerProvider } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import { mcpAuthRouter } from '@modelcontextprotocol/sdk/server/auth/router.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { OAuthClientInformationFull, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { z } from 'zod';

/** The little of express these servers use (express comes with the MCP SDK, without its types). */
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, next: (error?: unknown) => void) => void;
interface ExpressApp {
  (req: http.IncomingMessage, res: http.ServerResponse): void;
  use(...handlers: unknown[]): void;
  get(path: string, handler: (req: unknown, res: { json(body: unknown): void }) => void): void;
  all(path: string, ...handlers: unknown[]): void;
}
const express = createRequire(import.meta.url)('express') as () => ExpressApp;

export interface FakeMcpAuthorization {
  /** The MCP endpoint: it answers 401 with `WWW-Authenticate: Bearer resource_metadata=…` until given a token. */
  mcpUrl: string;
  /** The authorization server's issuer (another origin). */
  issuer: string;
  /** Client registrations the authorization server granted or refused, with what each asked for. */
  registrations: Array<{ clientName: string | undefined; redirectUris: string[]; grantTypes: string[]; authMethod: string | undefined }>;
  /** The `resource` parameter of each authorization request, and of each token request, by grant. */
  authorizeResources: Array<string | undefined>;
  tokenRequests: Array<{ grant: 'authorization_code' | 'refresh_token'; resource: string | undefined; clientId: string }>;
  /** Tokens the MCP server accepted, and its tool calls. */
  calls: string[];
  /** Makes every access token issued so far expire (the MCP server then answers 401 invalid_token). */
  expireTokens(): void;
  /** The authorization server forgets every client it registered (it then answers invalid_client). */
  forgetClients(): void;
  close(): Promise<void>;
}

/**
 * A hosted MCP server that requires MCP authorization, on 127.0.0.1: the MCP SDK's own server
 * pieces. Its protected-resource metadata sits at a path only its 401 names, and names an
 * authorization server on another origin (`mcpAuthRouter` over an in-memory provider) that
 * supports dynamic client registration, PKCE S256 and RFC 8707 resources. `registration`:
 * `refuse` answers every registration invalid_client_metadata; `absent` offers no registration endpoint.
 */
export async function startFakeMcpAuthorization(
  options: { registration?: 'ok' | 'refuse' | 'absent' } = {},
): Promise<FakeMcpAuthorization> {
  const clients = new Map<string, OAuthClientInformationFull>();
  const codes = new Map<string, { clientId: string; params: AuthorizationParams }>();
  const accessTokens = new Map<string, AuthInfo>();
  const refreshTokens = new Map<string, { clientId: string; resource: string | undefined }>();
  const state: Omit<FakeMcpAuthorization, 'mcpUrl' | 'issuer' | 'expireTokens' | 'forgetClients' | 'close'> = {
    registrations: [],
    authorizeResources: [],
    tokenRequests: [],
    calls: [],
  };
  const random = () => randomBytes(16).toString('hex');
  const issue = (clientId: string, resource: URL | undefined): OAuthTokens => {
    const accessToken = `at-${random()}`;
    const refreshToken = `rt-${random()}`;
    accessTokens.set(accessToken, {
      token: accessToken,
      clientId,
      scopes: ['pages:read'],
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
    });
    refreshTokens.set(refreshToken, { clientId, resource: resource?.href });
    return { access_token: accessToken, token_type: 'Bearer', expires_in: 3600, refresh_token: refreshToken, scope: 'pages:read' };
  };

  const provider: OAuthServerProvider = {
    clientsStore: {
      getClient: (id) => clients.get(id),
      ...(options.registration === 'absent'
        ? {}
        : {
            registerClient: (client: OAuthClientInformationFull) => {
              state.registrations.push({
                clientName: client.client_name,
                redirectUris: client.redirect_uris.map(String),
                grantTypes: client.grant_types ?? [],
                authMethod: client.token_endpoint_auth_method,
              });
              if (options.registration === 'refuse') throw new InvalidClientMetadataError('registration is closed');
              clients.set(client.client_id, client);
              return client;
            },
          }),
    },
    async authorize(client, params, res) {
      state.authorizeResources.push(params.resource?.href);
      const code = random();
      codes.set(code, { clientId: client.client_id, params });
      const back = new URL(params.redirectUri);
      back.searchParams.set('code', code);
      if (params.state) back.searchParams.set('state', params.state);
      res.redirect(302, back.href);
    },
    async challengeForAuthorizationCode(_client, code) {
      const found = codes.get(code);
      if (!found) throw new InvalidGrantError('unknown code');
      return found.params.codeChallenge;
    },
    async exchangeAuthorizationCode(client, code, _verifier, redirectUri, resource) {
      state.tokenRequests.push({ grant: 'authorization_code', resource: resource?.href, clientId: client.client_id });
      const found = codes.get(code);
      codes.delete(code);
      if (!found || found.clientId !== client.client_id || found.params.redirectUri !== redirectUri)
        throw new InvalidGrantError('bad code');
      return issue(client.client_id, resource);
    },
    async exchangeRefreshToken(client, refreshToken, _scopes, resource) {
      state.tokenRequests.push({ grant: 'refresh_token', resource: resource?.href, clientId: client.client_id });
      const found = refreshTokens.get(refreshToken);
      refreshTokens.delete(refreshToken);
      if (!found || found.clientId !== client.client_id) throw new InvalidGrantError('bad refresh token');
      return issue(client.client_id, resource);
    },
    async verifyAccessToken(token) {
      const found = accessTokens.get(token);
      if (!found) throw new InvalidTokenError('unknown token');
      return found;
    },
  };

  const listen = async (handler: { current: ExpressApp | undefined }) => {
    const server = http.createServer((req, res) => handler.current!(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  };
  const asApp = { current: undefined as ExpressApp | undefined };
  const rsApp = { current: undefined as ExpressApp | undefined };
  const as = await listen(asApp);
  const rs = await listen(rsApp);
  const issuer = `${as.origin}/`;
  const mcpUrl = `${rs.origin}/mcp`;

  asApp.current = express();
  asApp.current.use(
    mcpAuthRouter({
      provider,
      issuerUrl: new URL(issuer),
      scopesSupported: ['pages:read'],
      authorizationOptions: { rateLimit: false },
      tokenOptions: { rateLimit: false },
      clientRegistrationOptions: { rateLimit: false },
    }) as Handler,
  );

  const resourceMetadataUrl = `${rs.origin}/meta/resource`;
  rsApp.current = express();
  rsApp.current.get('/meta/resource', (_req, res) =>
    res.json({ resource: mcpUrl, authorization_servers: [issuer], scopes_supported: ['pages:read'] }),
  );
  rsApp.current.all(
    '/mcp',
    requireBearerAuth({ verifier: provider, resourceMetadataUrl }) as Handler,
    (async (req, res) => {
      // Stateless: a server per request.
      const server = new McpServer({ name: 'fake-pages', version: '1.0.0' });
      server.registerTool(
        'search_pages',
        { description: 'Search pages.', inputSchema: { query: z.string() }, annotations: { readOnlyHint: true } },
        async ({ query }) => {
          state.calls.push(`search_pages:${query}`);
          return { content: [{ type: 'text', text: `Found "Roadmap" for ${query}` }] };
        },
      );
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => void transport.close());
      await server.connect(transport);
      await transport.handleRequest(req, res);
    }) as Handler,
  );

  return {
    ...state,
    mcpUrl,
    issuer,
    expireTokens: () => accessTokens.clear(),
    forgetClients: () => clients.clear(),
    close: async () => {
      for (const { server } of [as, rs]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}
