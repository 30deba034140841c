import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';
import type { Catalogue, ProviderEntry } from './catalogue.ts';
import { ClientRegistrations } from './client-registrations.ts';
import type { CredentialVault, Credentials } from './credential-vault.ts';
import { McpOAuthClient } from './mcp-oauth-client.ts';
import { OAuthClient, type AuthorizationClient, type GrantedTokens } from './oauth-client.ts';
import type { OutboundGuard } from './outbound-guard.ts';

/** The cookie that ties an authorization to the browser that started it (HttpOnly, for the callback path only). */
export interface BrowserBinding {
  cookieName: string;
  value: string;
  maxAgeS: number;
}

/** Who comes back to the callback: the binding cookies their browser sent, and who they are signed in as, if they sent a token. */
export interface CallbackContext {
  browserBinding: (cookieName: string) => string | undefined;
  /** The signed-in caller; null when the token they sent failed; absent when they sent none. */
  callerUserId?: string | null;
  ip: string | null;
}

/** A callback that passed every check, with what the provider granted for whom. */
export interface CompletedAuthorization {
  userId: string;
  entry: ProviderEntry;
  tokens: GrantedTokens;
  /** The browser binding cookie, for the caller to clear. */
  cookieName: string;
}

export interface OAuthAuthorizationDeps {
  database: PostgresDatabase;
  catalogue: Catalogue;
  guard: OutboundGuard;
  /** Seals the client registrations of MCP authorization. */
  vault: CredentialVault;
  /** `PUBLIC_URL`: the redirect URI is `${publicUrl}/v1/oauth/callback`, exactly. */
  publicUrl: string;
}

/** How long a started authorization may take. */
const stateTtlMs = 10 * 60_000;

/**
 * The OAuth authorization code flow with PKCE for the catalogue's OAuth and MCP-authorization
 * providers (endpoints configured, or discovered: McpOAuthClient): starting it
 * (a single-use, expiring state in `oauth_states`, bound to the user and to their browser by a
 * cookie), checking the callback, trading the code for tokens, and revoking a grant. It stores
 * no connection: the caller saves what a completed authorization granted.
 */
export class OAuthAuthorization {
  readonly redirectUri: string;
  private readonly clients = new Map<string, AuthorizationClient>();

  constructor(private readonly deps: OAuthAuthorizationDeps) {
    this.redirectUri = `${deps.publicUrl}/v1/oauth/callback`;
    const registrations = new ClientRegistrations(deps);
    for (const entry of deps.catalogue.providers) {
      if (entry.signInUnavailable) continue;
      if (entry.auth.type === 'oauth2') this.clients.set(entry.id, new OAuthClient(entry.auth, deps.guard));
      if (entry.auth.type === 'mcp' && entry.mcp.transport === 'streamable-http') {
        const client = new McpOAuthClient({
          name: entry.name,
          settings: entry.auth,
          serverUrl: entry.mcp.url,
          guard: deps.guard,
          registrations,
          redirectUri: this.redirectUri,
        });
        this.clients.set(entry.id, client);
      }
    }
  }

  /** The OAuth client of an available OAuth or MCP-authorization provider; undefined for any other. */
  client(provider: string): AuthorizationClient | undefined {
    return this.clients.get(provider);
  }

  /** Records a new state for the user and answers with the URL to send their browser to, and the cookie that binds it. */
  async start(userId: string, entry: ProviderEntry): Promise<{ authorizationUrl: string; browserBinding: BrowserBinding }> {
    const state = randomBytes(32).toString('base64url');
    const binding = randomBytes(32).toString('base64url');
    // Built first: finding a server's endpoints or registering with it may fail, and then nothing is stored.
    const { url, codeVerifier } = await this.clients.get(entry.id)!.authorizationUrl(state, this.redirectUri);
    const { db } = this.deps.database;
    await db
      .deleteFrom('oauth_states')
      .where('expires_at', '<', sql<Date>`now()`)
      .execute();
    await db
      .insertInto('oauth_states')
      .values({
        state_hash: hash(state),
        user_id: userId,
        provider: entry.id,
        code_verifier: codeVerifier,
        redirect_uri: this.redirectUri,
        browser_binding: hash(binding),
        expires_at: new Date(Date.now() + stateTtlMs),
      })
      .execute();
    return {
      authorizationUrl: url,
      browserBinding: { cookieName: bindingCookieName(hash(state)), value: binding, maxAgeS: stateTtlMs / 1000 },
    };
  }

  /**
   * Checks a callback and trades its code for tokens. The state is single-use and expiring, and
   * belongs to the user who started the authorization: a caller signed in as someone else is
   * refused, and so is one whose token failed (`callerUserId: null`), with the same answer, so it
   * tells no valid token from an invalid one. The code is traded with the PKCE verifier and the
   * exact redirect URI of the start.
   */
  async complete(callback: URLSearchParams, context: CallbackContext): Promise<CompletedAuthorization> {
    const state = callback.get('state');
    if (!state) throw new AppError('OAUTH_STATE_INVALID', 'The callback has no state: start connecting again.');
    const stateHash = hash(state);
    const cookieName = bindingCookieName(stateHash);
    const started = await this.deps.database.db
      .deleteFrom('oauth_states')
      .where('state_hash', '=', stateHash)
      .returningAll()
      .executeTakeFirst();
    if (!started || started.expires_at.getTime() < Date.now()) throw new AppError('OAUTH_STATE_INVALID');
    if (context.callerUserId !== undefined && context.callerUserId !== started.user_id) throw new AppError('OAUTH_STATE_INVALID');
    // The browser that comes back must be the one that started: a link someone else started
    // cannot attach the clicking user's account to theirs.
    const binding = context.browserBinding(cookieName);
    if (!binding || hash(binding) !== started.browser_binding) {
      throw new AppError(
        'OAUTH_STATE_INVALID',
        'Finish connecting in the browser where you started it (this one did not start it, or has lost its cookie): start connecting again.',
      );
    }
    if (started.redirect_uri !== this.redirectUri)
      throw new AppError(
        'OAUTH_STATE_INVALID',
        'This authorization was started for another address of this server (PUBLIC_URL changed): start connecting again.',
      );
    const entry = this.deps.catalogue.get(started.provider);
    const client = this.clients.get(entry.id);
    if (!client) throw new AppError('INTEGRATION_NOT_CONFIGURED', entry.signInUnavailable);
    const tokens = await client.exchangeCode(callback, state, started.code_verifier, started.redirect_uri);
    return { userId: started.user_id, entry, tokens, cookieName };
  }

  /**
   * Revokes a grant at its provider: undefined when the provider offers no revocation, otherwise
   * whether it confirmed (a refusal or an unreachable provider is `false`, not an error).
   */
  async revoke(provider: string, credentials: Credentials): Promise<boolean | undefined> {
    const client = this.clients.get(provider);
    if (!client?.canRevoke) return undefined;
    const token = credentials.refreshToken ?? credentials.accessToken;
    if (!token) return false;
    return client.revoke(token).then(
      () => true,
      () => false,
    );
  }
}

function bindingCookieName(stateHash: string): string {
  return `agentry_oauth_${stateHash.slice(0, 16)}`;
}

function hash(state: string): string {
  return createHash('sha256').update(state).digest('hex');
}
