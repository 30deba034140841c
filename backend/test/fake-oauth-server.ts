import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An OAuth 2 authorization server on 127.0.0.1 that speaks the protocol strictly: authorization
 * code with PKCE S256 only, exact redirect URIs, single-use codes, refresh tokens that rotate
 * (the old one stops working), RFC 7009 revocation, and a protected resource that answers 401 to
 * a token it did not issue or revoked. Consent is given at once. `tokenAnswer` makes the token
 * endpoint misbehave.
 */
export interface FakeOAuthServer {
  url: string;
  clientId: string;
  clientSecret: string;
  /** The redirect URI registered for the client. */
  redirectUri: string;
  /** Every access token, refresh token and code issues starts with this: search for it anywhere it must not be. */
  canary: string;
  /** How many refresh grants succeeded. */
  refreshes: number;
  /** Tokens revoked through the revocation endpoint. */
  revoked: string[];
  /** Seconds an access token lives. */
  accessTokenTtlS: number;
  /** The token endpoint's next answers: ok, an OAuth error, a body that is not JSON, a JSON body without a token, or a 503. */
  tokenAnswer: 'ok' | 'invalid_grant' | 'garbage' | 'no-token' | 'unavailable';
  /** Milliseconds the token endpoint waits before answering a refresh. */
  refreshDelayMs: number;
  /** The token_type it answers (Slack answers `bot`). */
  tokenType: string;
  /** When set, access tokens are made by it (a fake API's own tokens), not at random. */
  mintAccessToken: (() => string) | undefined;
  /** When set, a code grant also gives the user's own token, as Slack's `authed_user` does. */
  userToken: (() => string) | undefined;
  /** The query of every authorization request. */
  authorizations: URLSearchParams[];
  /** Whether an access token is one it issued and has not revoked: for resource servers. */
  accepts(accessToken: string): boolean;
  /** Makes an access token unusable at the resource (as if the provider revoked it). */
  invalidate(accessToken: string): void;
  /** Makes every refresh token unusable (as if the user revoked the app at the provider). */
  forgetRefreshTokens(): void;
  close(): Promise<void>;
}

export async function startFakeOAuthServer(options: { redirectUri: string; canary?: string }): Promise<FakeOAuthServer> {
  const canary = options.canary ?? `canary-${randomBytes(6).toString('hex')}`;
  const codes = new Map<string, { challenge: string; redirectUri: string }>();
  const accessTokens = new Set<string>();
  const refreshTokens = new Set<string>();
  const issue = () => `${canary}-${randomBytes(12).toString('hex')}`;

  const state: Omit<FakeOAuthServer, 'url' | 'close'> = {
    clientId: 'agentry-test-client',
    clientSecret: 'agentry-test-secret',
    redirectUri: options.redirectUri,
    canary,
    refreshes: 0,
    revoked: [],
    accessTokenTtlS: 3600,
    tokenAnswer: 'ok',
    refreshDelayMs: 0,
    tokenType: 'Bearer',
    userToken: undefined,
    mintAccessToken: undefined,
    authorizations: [],
    accepts: (token) => accessTokens.has(token),
    invalidate: (token) => void accessTokens.delete(token),
    forgetRefreshTokens: () => refreshTokens.clear(),
  };

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const grantTokens = (res: http.ServerResponse, options: { withUser?: boolean } = {}) => {
    const access = state.mintAccessToken?.() ?? issue();
    const refresh = issue();
    accessTokens.add(access);
    refreshTokens.add(refresh);
    json(res, 200, {
      access_token: access,
      token_type: state.tokenType,
      expires_in: state.accessTokenTtlS,
      refresh_token: refresh,
      scope: 'read write',
      ...(options.withUser && state.userToken ? { authed_user: { id: 'U-INSTALLER', access_token: state.userToken() } } : {}),
    });
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      void handle(url, new URLSearchParams(body), req, res).catch(() => json(res, 500, { error: 'server_error' }));
    });
  });

  async function handle(url: URL, form: URLSearchParams, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (url.pathname === '/authorize') {
      const q = url.searchParams;
      state.authorizations.push(new URLSearchParams(q));
      if (q.get('client_id') !== state.clientId || q.get('redirect_uri') !== state.redirectUri)
        return json(res, 400, { error: 'invalid_request' });
      const back = new URL(state.redirectUri);
      back.searchParams.set('state', q.get('state') ?? '');
      if (q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) {
        back.searchParams.set('error', 'invalid_request');
      } else {
        const code = issue();
        codes.set(code, { challenge: q.get('code_challenge')!, redirectUri: q.get('redirect_uri')! });
        back.searchParams.set('code', code);
      }
      res.writeHead(302, { location: back.href });
      return void res.end();
    }
    if (url.pathname === '/resource') {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      return token && accessTokens.has(token) ? json(res, 200, { ok: true }) : json(res, 401, { error: 'invalid_token' });
    }
    if (!authenticated(req, form)) return json(res, 401, { error: 'invalid_client' });
    if (url.pathname === '/revoke') {
      const token = form.get('token') ?? '';
      state.revoked.push(token);
      accessTokens.delete(token);
      refreshTokens.delete(token);
      return json(res, 200, {});
    }
    if (url.pathname !== '/token') return json(res, 404, { error: 'not_found' });
    if (state.tokenAnswer === 'garbage') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end('<html><body>Something went wrong</body></html>');
    }
    if (state.tokenAnswer === 'no-token') return json(res, 200, { token_type: 'Bearer' });
    if (state.tokenAnswer === 'unavailable') return json(res, 503, { error: 'temporarily_unavailable' });
    if (state.tokenAnswer === 'invalid_grant') return json(res, 400, { error: 'invalid_grant', error_description: 'no' });
    if (form.get('grant_type') === 'authorization_code') {
      const code = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (!code || code.redirectUri !== form.get('redirect_uri') || code.challenge !== challenge)
        return json(res, 400, { error: 'invalid_grant' });
      return grantTokens(res, { withUser: true });
    }
    if (form.get('grant_type') === 'refresh_token') {
      const refresh = form.get('refresh_token') ?? '';
      if (state.refreshDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, state.refreshDelayMs));
      if (!refreshTokens.delete(refresh)) return json(res, 400, { error: 'invalid_grant' });
      state.refreshes += 1;
      return grantTokens(res);
    }
    return json(res, 400, { error: 'unsupported_grant_type' });
  }

  function authenticated(req: http.IncomingMessage, form: URLSearchParams): boolean {
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (basic) {
      const [id, secret] = Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent);
      return id === state.clientId && secret === state.clientSecret;
    }
    return form.get('client_id') === state.clientId && form.get('client_secret') === state.clientSecret;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
