import {
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  exchangeAuthorization,
  extractWWWAuthenticateParams,
  refreshAuthorization,
  registerClient,
  startAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type {
  AuthorizationServerMetadata,
  OAuthClientInformationMixed,
  OAuthProtectedResourceMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { checkResourceAllowed, resourceUrlFromServerUrl } from '@modelcontextprotocol/sdk/shared/auth-utils.js';
import { AppError } from '../errors.ts';
import type { McpAuthSettings } from './catalogue.ts';
import type { ClientRegistrations } from './client-registrations.ts';
import { checkCallback, OAuthProviderError, safeCode, type AuthorizationClient, type GrantedTokens } from './oauth-client.ts';
import type { OutboundGuard } from './outbound-guard.ts';

export interface McpOAuthClientDeps {
  /** The integration's name, for messages. */
  name: string;
  settings: McpAuthSettings;
  /** The MCP server's URL: the protected resource. */
  serverUrl: string;
  guard: OutboundGuard;
  registrations: ClientRegistrations;
  /** `<PUBLIC_URL>/v1/oauth/callback`: the registration is made for it. */
  redirectUri: string;
}

/** What discovery found: the authorization server, its metadata, and what to ask it for. */
interface Discovered {
  authorizationServerUrl: string;
  metadata: AuthorizationServerMetadata;
  /** RFC 8707 resource indicator: the protected resource's own identifier, sent verbatim. */
  resource: string;
  scope: string | undefined;
  at: number;
}

const requestTimeoutMs = 15_000;
/** Metadata, registration and token answers are small; a larger one is refused. */
const maxAnswerBytes = 256 * 1024;
/** Discovery is kept this long: the endpoints of a server rarely move, and a failure is never kept. */
const discoveryTtlMs = 60 * 60_000;
const probeBody = JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'agentry', version: '1' } },
});

/**
 * MCP's own authorization for one hosted MCP server: its protected-resource metadata (RFC 9728,
 * found through its 401's `WWW-Authenticate` or the well-known paths) names the authorization
 * server, whose metadata (RFC 8414, or OpenID Connect discovery) gives the endpoints; Agentry
 * registers itself there (RFC 7591) unless an administrator configured a client, and runs the
 * authorization code flow with PKCE S256 and the `resource` parameter (RFC 8707) on every
 * authorization and token request.
 *
 * Spoken with the MCP SDK's client auth helpers, each given the outbound guard's fetch (with a
 * timeout and a size cap): they implement the MCP-specific discovery order and resource rules.
 * The callback is checked with oauth4webapi, as for configured providers. Errors are AppErrors
 * whose messages carry no token and no server's response body.
 */
export class McpOAuthClient implements AuthorizationClient {
  /** Revocation is not offered for MCP authorization yet: disconnecting deletes the tokens here. */
  readonly canRevoke = false;
  private discovered: Promise<Discovered> | undefined;
  private readonly fetch = (url: string | URL, init?: RequestInit) => this.guardedFetch(url, init);

  constructor(private readonly deps: McpOAuthClientDeps) {}

  async authorizationUrl(state: string, redirectUri: string): Promise<{ url: string; codeVerifier: string }> {
    const server = await this.discover();
    const client = await this.client(server);
    const { authorizationUrl, codeVerifier } = await startAuthorization(server.authorizationServerUrl, {
      metadata: server.metadata,
      clientInformation: client,
      redirectUrl: redirectUri,
      state,
      resource: server.resource,
      ...(server.scope ? { scope: server.scope } : {}),
    }).catch(() => {
      throw this.unsupported('its authorization server does not offer the authorization code flow');
    });
    return { url: authorizationUrl.href, codeVerifier };
  }

  async exchangeCode(callback: URLSearchParams, state: string, codeVerifier: string, redirectUri: string): Promise<GrantedTokens> {
    const server = await this.discover();
    const client = await this.client(server);
    const parameters = checkCallback(asServer(server.metadata), { client_id: client.client_id }, callback, state);
    return this.token('The authorization code could not be exchanged', server, client, () =>
      exchangeAuthorization(server.authorizationServerUrl, {
        metadata: server.metadata,
        clientInformation: client,
        authorizationCode: parameters.get('code') ?? '',
        codeVerifier,
        redirectUri,
        resource: server.resource,
        fetchFn: this.fetch,
      }),
    );
  }

  async refresh(refreshToken: string): Promise<GrantedTokens> {
    const server = await this.discover();
    const client = await this.client(server);
    return this.token('The access token could not be refreshed', server, client, () =>
      refreshAuthorization(server.authorizationServerUrl, {
        metadata: server.metadata,
        clientInformation: client,
        refreshToken,
        resource: server.resource,
        fetchFn: this.fetch,
      }),
    );
  }

  async revoke(): Promise<void> {
    throw new OAuthProviderError('MCP authorization offers no revocation here.', false);
  }

  /** Discovery, kept for an hour; a failure is not kept, so the next attempt discovers again. */
  private discover(): Promise<Discovered> {
    const kept = this.discovered;
    if (kept) {
      return kept.then((found) => {
        if (Date.now() - found.at < discoveryTtlMs) return found;
        if (this.discovered === kept) this.discovered = undefined;
        return this.discover();
      });
    }
    const fresh = this.discoverNow();
    this.discovered = fresh;
    fresh.catch(() => {
      if (this.discovered === fresh) this.discovered = undefined;
    });
    return fresh;
  }

  private async discoverNow(): Promise<Discovered> {
    const { serverUrl, settings } = this.deps;
    // The server's own 401 names its metadata (and may say which scopes it wants).
    const probe = await this.fetch(serverUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: probeBody,
    }).catch((error: unknown) => {
      throw this.unreachable(error);
    });
    const challenge = probe.status === 401 ? extractWWWAuthenticateParams(probe) : {};
    let resourceMetadata: OAuthProtectedResourceMetadata | undefined;
    try {
      resourceMetadata = await discoverOAuthProtectedResourceMetadata(
        serverUrl,
        challenge.resourceMetadataUrl ? { resourceMetadataUrl: challenge.resourceMetadataUrl } : {},
        this.fetch,
      );
    } catch (error) {
      if (error instanceof AppError && error.code === 'OUTBOUND_REFUSED') throw this.unreachable(error);
      resourceMetadata = undefined; // a server of the 2025-03-26 revision: it is its own authorization server
    }
    let authorizationServerUrl = new URL('/', serverUrl).href;
    let resource = resourceUrlFromServerUrl(serverUrl).href;
    if (resourceMetadata) {
      const named = resourceMetadata.authorization_servers?.[0];
      if (!named) throw this.unsupported('its protected-resource metadata names no authorization server');
      // A server's metadata speaks only for itself (RFC 9728 §3.3).
      if (!checkResourceAllowed({ requestedResource: serverUrl, configuredResource: resourceMetadata.resource }))
        throw this.unsupported('its protected-resource metadata is for another resource');
      authorizationServerUrl = named;
      resource = resourceMetadata.resource;
    }
    const metadata = await discoverAuthorizationServerMetadata(authorizationServerUrl, { fetchFn: this.fetch }).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'OUTBOUND_REFUSED') throw this.unreachable(error);
      return undefined;
    });
    if (!metadata) throw this.unsupported('it publishes no authorization server metadata');
    // MCP requires S256, and a server that does not list it must be assumed not to support it.
    if (!metadata.code_challenge_methods_supported?.includes('S256'))
      throw this.unsupported('its authorization server does not support PKCE with S256');
    const scope = settings.scopes?.join(' ') || challenge.scope || resourceMetadata?.scopes_supported?.join(' ') || undefined;
    return { authorizationServerUrl, metadata, resource, scope, at: Date.now() };
  }

  /** The administrator's client, or Agentry's registration at this authorization server (made once, then shared). */
  private async client(server: Discovered): Promise<OAuthClientInformationMixed & { registered?: true }> {
    const { settings, redirectUri } = this.deps;
    if (settings.clientId)
      return { client_id: settings.clientId, ...(settings.clientSecret ? { client_secret: settings.clientSecret } : {}) };
    const { metadata } = server;
    if (!metadata.registration_endpoint)
      throw this.unsupported(
        'its authorization server does not offer dynamic client registration (an administrator can register a client there and set clientId)',
      );
    const registration = await this.deps.registrations.ensure({ issuer: metadata.issuer, redirectUri }, async () => {
      const method = authMethod(metadata.token_endpoint_auth_methods_supported);
      if (!method) throw this.unsupported('its authorization server offers no client authentication Agentry supports');
      try {
        return await registerClient(server.authorizationServerUrl, {
          metadata,
          clientMetadata: {
            client_name: 'Agentry',
            redirect_uris: [redirectUri],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: method,
          },
          ...(server.scope ? { scope: server.scope } : {}),
          fetchFn: this.fetch,
        });
      } catch (error) {
        if (error instanceof AppError) throw error.code === 'OUTBOUND_REFUSED' ? this.unreachable(error) : error;
        const code = error instanceof OAuthError ? safeCode(error.errorCode) : 'error';
        throw new OAuthProviderError(
          `The authorization server of ${this.deps.name} refused to register Agentry as a client (${code}).`,
          false,
        );
      }
    });
    return { ...registration, registered: true };
  }

  /**
   * A token request. A registration the server has forgotten (invalid_client) is dropped, so the
   * next connect registers again; the grant made under it is gone too, so the error is permanent.
   */
  private async token(
    what: string,
    server: Discovered,
    client: OAuthClientInformationMixed & { registered?: true },
    request: () => Promise<OAuthTokens>,
  ): Promise<GrantedTokens> {
    let tokens: OAuthTokens;
    try {
      tokens = await request();
    } catch (error) {
      if (error instanceof AppError) throw error.code === 'OUTBOUND_REFUSED' ? this.unreachable(error) : error;
      if (!(error instanceof OAuthError)) {
        const late = (error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError';
        throw new OAuthProviderError(
          `${what}: the provider ${late ? 'did not answer in time' : 'cannot be reached or answered badly'}.`,
          false,
        );
      }
      const code = safeCode(error.errorCode);
      if (code === 'invalid_client' && client.registered) {
        await this.deps.registrations.drop({ issuer: server.metadata.issuer, redirectUri: this.deps.redirectUri }, client.client_id);
        throw new OAuthProviderError(`${what}: the authorization server no longer knows Agentry's registration; connect again.`, true, {
          status: 401,
          error: code,
        });
      }
      throw new OAuthProviderError(`${what}: the provider answered ${code}.`, code === 'invalid_grant', { status: 400, error: code });
    }
    return {
      accessToken: tokens.access_token,
      ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
      tokenType: tokens.token_type,
      ...(typeof tokens.expires_in === 'number' ? { expiresAt: new Date(Date.now() + tokens.expires_in * 1000) } : {}),
      ...(tokens.scope ? { scope: tokens.scope } : {}),
    };
  }

  /** The outbound guard's fetch, with a timeout, and an answer read whole up to a cap. */
  private async guardedFetch(url: string | URL, init?: RequestInit): Promise<Response> {
    const response = await this.deps.guard.fetch(url, { ...init, signal: init?.signal ?? AbortSignal.timeout(requestTimeoutMs) });
    if (!response.body) return response;
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let seen = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += value.byteLength;
      if (seen > maxAnswerBytes) {
        await reader.cancel();
        throw new OAuthProviderError(`The authorization server of ${this.deps.name} sent an answer larger than 256 KB.`, false);
      }
      chunks.push(value);
    }
    return new Response(Buffer.concat(chunks), { status: response.status, statusText: response.statusText, headers: response.headers });
  }

  private unsupported(reason: string): AppError {
    return new AppError('MCP_AUTHORIZATION_UNSUPPORTED', `${this.deps.name} cannot be connected: ${reason}.`);
  }

  private unreachable(error: unknown): AppError {
    if (error instanceof AppError && error.code === 'OUTBOUND_REFUSED')
      return new OAuthProviderError(
        `${this.deps.name} cannot be connected: this installation's outbound rules refuse its server (an administrator can allow it with OUTBOUND_ALLOWED_HOSTS).`,
        false,
      );
    if (error instanceof AppError) return error;
    return new OAuthProviderError(`${this.deps.name} cannot be connected: its MCP server cannot be reached.`, false);
  }
}

/** The client authentication to register with: a secret when the server takes one (Agentry is a server), else none. */
function authMethod(supported: string[] | undefined): 'client_secret_basic' | 'client_secret_post' | 'none' | undefined {
  // RFC 8414: a server that lists none supports client_secret_basic.
  const offered = supported ?? ['client_secret_basic'];
  return (['client_secret_basic', 'client_secret_post', 'none'] as const).find((method) => offered.includes(method));
}

/** The authorization server as oauth4webapi checks a callback against it (RFC 9207 `iss` when the server says it sends one). */
function asServer(metadata: AuthorizationServerMetadata) {
  return {
    issuer: metadata.issuer,
    authorization_endpoint: metadata.authorization_endpoint,
    token_endpoint: metadata.token_endpoint,
    ...((metadata as Record<string, unknown>)['authorization_response_iss_parameter_supported'] === true
      ? { authorization_response_iss_parameter_supported: true }
      : {}),
  };
}
