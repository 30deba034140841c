import * as oauth from 'oauth4webapi';
import { AppError } from '../errors.ts';
import type { OAuth2Settings } from './catalogue.ts';
import type { OutboundGuard } from './outbound-guard.ts';

/** What a token endpoint granted, as Agentry keeps it. */
export interface GrantedTokens {
  accessToken: string;
  refreshToken?: string;
  tokenType: string;
  /** When the access token expires; undefined when the provider did not say. */
  expiresAt?: Date;
  scope?: string;
  /** The signed-in user's own token, granted beside the app's (Slack's `authed_user.access_token`). */
  userToken?: string;
}

const requestTimeoutMs = 15_000;

/**
 * What the authorization flow and the token refresher need of a provider's OAuth, whether its
 * endpoints and client are configured (OAuthClient) or discovered (McpOAuthClient).
 */
export interface AuthorizationClient {
  readonly canRevoke: boolean;
  /** The URL to send the user's browser to, with a fresh PKCE verifier (S256) to keep for the exchange. */
  authorizationUrl(state: string, redirectUri: string): Promise<{ url: string; codeVerifier: string }>;
  /** Checks the callback's parameters (an error the provider reported included) and trades the code for tokens. */
  exchangeCode(callback: URLSearchParams, state: string, codeVerifier: string, redirectUri: string): Promise<GrantedTokens>;
  /** Throws OAuthProviderError, `permanent` when the grant itself is gone. */
  refresh(refreshToken: string): Promise<GrantedTokens>;
  revoke(token: string): Promise<void>;
}

/**
 * One provider's OAuth 2 endpoints, spoken through oauth4webapi: authorization code with PKCE
 * S256, refresh, revocation. Every request goes through the outbound guard. Errors come back as
 * AppErrors whose messages never carry a token or a provider's response body.
 */
export class OAuthClient implements AuthorizationClient {
  private readonly server: oauth.AuthorizationServer;
  private readonly client: oauth.Client;
  private readonly clientAuth: oauth.ClientAuth;
  /** Token types besides bearer the provider issues (Slack's `bot`): taken as bearer tokens. */
  private readonly tokenTypes: oauth.RecognizedTokenTypes;

  constructor(
    private readonly settings: OAuth2Settings,
    private readonly guard: OutboundGuard,
  ) {
    this.server = {
      issuer: settings.issuer ?? new URL(settings.authorizationUrl).origin,
      authorization_endpoint: settings.authorizationUrl,
      token_endpoint: settings.tokenUrl,
      ...(settings.revocationUrl ? { revocation_endpoint: settings.revocationUrl } : {}),
    };
    this.client = { client_id: settings.clientId };
    this.tokenTypes = Object.fromEntries(settings.tokenTypes.map((type) => [type.toLowerCase(), () => undefined]));
    this.clientAuth =
      settings.tokenAuthMethod === 'client_secret_post'
        ? oauth.ClientSecretPost(settings.clientSecret)
        : oauth.ClientSecretBasic(settings.clientSecret);
  }

  get canRevoke(): boolean {
    return Boolean(this.settings.revocationUrl);
  }

  async authorizationUrl(state: string, redirectUri: string): Promise<{ url: string; codeVerifier: string }> {
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const url = new URL(this.settings.authorizationUrl);
    for (const [name, value] of Object.entries(this.settings.authorizationParams)) url.searchParams.set(name, value);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.settings.clientId);
    url.searchParams.set('redirect_uri', redirectUri);
    if (this.settings.scopes.length > 0) url.searchParams.set('scope', this.settings.scopes.join(' '));
    url.searchParams.set('state', state);
    url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
    url.searchParams.set('code_challenge_method', 'S256');
    return { url: url.href, codeVerifier };
  }

  async exchangeCode(callback: URLSearchParams, state: string, codeVerifier: string, redirectUri: string): Promise<GrantedTokens> {
    const parameters = checkCallback(this.server, this.client, callback, state);
    return this.grant('The authorization code could not be exchanged', async () =>
      oauth.processAuthorizationCodeResponse(
        this.server,
        this.client,
        await oauth.authorizationCodeGrantRequest(
          this.server,
          this.client,
          this.clientAuth,
          parameters,
          redirectUri,
          codeVerifier,
          this.requestOptions(),
        ),
        { recognizedTokenTypes: this.tokenTypes },
      ),
    );
  }

  async refresh(refreshToken: string): Promise<GrantedTokens> {
    return this.grant('The access token could not be refreshed', async () =>
      oauth.processRefreshTokenResponse(
        this.server,
        this.client,
        await oauth.refreshTokenGrantRequest(this.server, this.client, this.clientAuth, refreshToken, this.requestOptions()),
        {
          recognizedTokenTypes: this.tokenTypes,
        },
      ),
    );
  }

  /** RFC 7009 revocation. Throws OAUTH_PROVIDER_ERROR when the provider refuses or cannot be reached. */
  async revoke(token: string): Promise<void> {
    try {
      await oauth.processRevocationResponse(
        await oauth.revocationRequest(this.server, this.client, this.clientAuth, token, this.requestOptions()),
      );
    } catch (error) {
      throw toProviderError('The token could not be revoked', error);
    }
  }

  private requestOptions() {
    return {
      [oauth.customFetch]: (url: string, init: RequestInit) => this.guard.fetch(url, init),
      // An administrator who configured an http:// endpoint meant it (a provider on the local network).
      [oauth.allowInsecureRequests]: [this.settings.tokenUrl, this.settings.revocationUrl].some((url) => url?.startsWith('http://')),
      signal: () => AbortSignal.timeout(requestTimeoutMs),
    };
  }

  private async grant(what: string, request: () => Promise<oauth.TokenEndpointResponse>): Promise<GrantedTokens> {
    let response: oauth.TokenEndpointResponse;
    try {
      response = await request();
    } catch (error) {
      throw toProviderError(what, error);
    }
    return {
      accessToken: response.access_token,
      ...(response.refresh_token ? { refreshToken: response.refresh_token } : {}),
      tokenType: response.token_type,
      ...(typeof response.expires_in === 'number' ? { expiresAt: new Date(Date.now() + response.expires_in * 1000) } : {}),
      ...(response.scope ? { scope: response.scope } : {}),
      ...userTokenOf(response),
    };
  }
}

/** Slack grants a user token beside the bot's when the authorization asked for user scopes. */
function userTokenOf(response: oauth.TokenEndpointResponse): { userToken?: string } {
  const user = response['authed_user'];
  const token = typeof user === 'object' && user !== null ? (user as { access_token?: unknown }).access_token : undefined;
  return typeof token === 'string' && token.length > 0 && token.length <= 4096 ? { userToken: token } : {};
}

/** A token or revocation endpoint failed. `permanent`: the provider refused the grant itself, so retrying cannot help. */
export class OAuthProviderError extends AppError {
  constructor(
    message: string,
    readonly permanent: boolean,
    details?: { status: number; error: string },
  ) {
    super('OAUTH_PROVIDER_ERROR', message, { details });
  }
}

/**
 * The callback's parameters, checked (RFC 6749 and RFC 9207: its state, and its issuer when the
 * server names one). An error the provider reported is OAUTH_DENIED with its code.
 */
export function checkCallback(
  server: oauth.AuthorizationServer,
  client: oauth.Client,
  callback: URLSearchParams,
  state: string,
): URLSearchParams {
  try {
    return oauth.validateAuthResponse(server, client, callback, state);
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) {
      throw new AppError('OAUTH_DENIED', `The provider did not authorise the connection (${safeCode(error.error)}).`, {
        details: { error: safeCode(error.error) },
      });
    }
    throw new AppError('OAUTH_DENIED', 'The provider sent back an authorization response that is not valid.');
  }
}

function toProviderError(what: string, error: unknown): AppError {
  // The administrator's endpoint at an address the outbound rules refuse: the user cannot fix
  // that, and the address is not theirs to see.
  if (error instanceof AppError && error.code === 'OUTBOUND_REFUSED') {
    return new OAuthProviderError(
      `${what}: this installation's outbound rules refuse the provider's endpoint (an administrator can allow it with OUTBOUND_ALLOWED_HOSTS).`,
      false,
    );
  }
  if (error instanceof AppError) return error;
  if (error instanceof oauth.ResponseBodyError) {
    const code = safeCode(error.error);
    // The grant itself is gone (RFC 6749 invalid_grant). Anything else (a wrong client secret, a
    // provider failing) is the installation's or the provider's to fix: the connection stays.
    const permanent = code === 'invalid_grant';
    return new OAuthProviderError(`${what}: the provider answered ${error.status} ${code}.`, permanent, {
      status: error.status,
      error: code,
    });
  }
  if ((error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError')
    return new OAuthProviderError(`${what}: the provider did not answer in time.`, false);
  if (error instanceof oauth.OperationProcessingError || (error as { code?: string }).code?.startsWith('OAUTH_')) {
    return new OAuthProviderError(`${what}: the provider's answer is not a valid OAuth response.`, false);
  }
  return new OAuthProviderError(`${what}: the provider cannot be reached.`, false);
}

/** A provider's error code, shown only when it looks like one (it is the provider's text). */
export function safeCode(code: string | undefined): string {
  return code && /^[a-z0-9_.-]{1,60}$/i.test(code) ? code : 'error';
}
