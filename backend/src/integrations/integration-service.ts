import type { Actor } from '../accounts/index.ts';
import type { PostgresDatabase } from '../database/index.ts';
import { AppError, type ReportedError } from '../errors.ts';
import type { EventBus } from '../events/index.ts';
import type { Catalogue, ProviderEntry } from './catalogue.ts';
import { ConnectionCredentials, grantedCredentials, type ConnectionTarget } from './connection-credentials.ts';
import { setConnectionStatus, type ObservedStatus } from './connection-status.ts';
import { ConnectionStore, type ConnectionView, type IntegrationListing } from './connection-store.ts';
import type { SandboxData } from './connectors/sandbox/index.ts';
import type { CredentialVault, Credentials } from './credential-vault.ts';
import type { McpTarget } from './mcp-clients.ts';
import { OAuthAuthorization, type BrowserBinding, type CallbackContext } from './oauth-authorization.ts';
import type { OutboundGuard } from './outbound-guard.ts';
import { TokenRefresher } from './token-refresher.ts';
import type { ToolRegistry } from './tool-registry.ts';

/** What a user sends to connect: an API key for providers that take one, the URL of their own MCP server for those that need it. */
export interface ConnectInput {
  apiKey?: string | undefined;
  mcpUrl?: string | undefined;
}

export interface IntegrationServiceDeps {
  database: PostgresDatabase;
  bus: EventBus;
  catalogue: Catalogue;
  vault: CredentialVault;
  guard: OutboundGuard;
  registry: ToolRegistry;
  /** `PUBLIC_URL`: the redirect URI is `${publicUrl}/v1/oauth/callback`, exactly. */
  publicUrl: string;
  refreshClaimTtlMs?: number;
  /**
   * Checks a key against the entry's server before it is saved (McpClients.checkKey): throws
   * INTEGRATION_KEY_REJECTED when refused, INTEGRATION_UNAVAILABLE when the server cannot say.
   */
  checkKey(entry: ProviderEntry, key: string, options: { mcpUrl: string | null }): Promise<void>;
  /** The keyless sandbox's data, which a user may reset (absent: there is nothing to reset). */
  sandbox?: SandboxData;
  /** A connection was made (or made again): its tools are listed next. */
  onConnected?: (connection: ConnectionView) => void;
}

/**
 * A user's connections to the providers of the catalogue: connecting (OAuth with PKCE, an API
 * key, or nothing), the OAuth callback, fresh access tokens, and disconnecting with revocation.
 * Every change commits with its event and audit entry. The rows are the ConnectionStore's, the
 * OAuth flow the OAuthAuthorization's, tokens and keys at the moment of use the
 * ConnectionCredentials'; this is the one API over them, and checks what a user asks for.
 */
export class IntegrationService {
  readonly redirectUri: string;
  private readonly store: ConnectionStore;
  private readonly authorization: OAuthAuthorization;
  private readonly credentials: ConnectionCredentials;

  constructor(private readonly deps: IntegrationServiceDeps) {
    this.store = new ConnectionStore(deps);
    this.authorization = new OAuthAuthorization(deps);
    this.redirectUri = this.authorization.redirectUri;
    const refresher = new TokenRefresher({
      database: deps.database,
      registry: deps.registry,
      vault: deps.vault,
      oauthClient: (provider) => this.authorization.client(provider),
      ...(deps.refreshClaimTtlMs ? { claimTtlMs: deps.refreshClaimTtlMs } : {}),
    });
    this.credentials = new ConnectionCredentials({ store: this.store, catalogue: deps.catalogue, vault: deps.vault, refresher });
  }

  /** The catalogue, each entry with the user's connection to it; then connections whose provider has left the catalogue. */
  async list(userId: string): Promise<IntegrationListing[]> {
    return this.store.list(userId);
  }

  /**
   * Puts the user's sandbox data back as the sample made it, at the current time: what they
   * changed, sent or removed there is replaced. INTEGRATION_NOT_FOUND where the catalogue offers no sandbox.
   */
  async resetSandbox(userId: string): Promise<{ messages: number; events: number; chatMessages: number }> {
    const offered = this.deps.catalogue.providers.some((p) => p.mcp.transport === 'builtin' && p.mcp.server === 'sandbox');
    if (!offered || !this.deps.sandbox) throw new AppError('INTEGRATION_NOT_FOUND', 'There is no sandbox on this installation.');
    return this.deps.sandbox.reset(userId);
  }

  /** The user's connection; CONNECTION_NOT_FOUND when it is not theirs. */
  async get(userId: string, connectionId: string): Promise<ConnectionView> {
    return this.store.view(userId, connectionId);
  }

  /** Provider ids of the user's usable connections. */
  async connectedProviders(userId: string): Promise<string[]> {
    return this.store.connectedProviders(userId);
  }

  /** The user's connections, for discovery. */
  async connections(userId: string): Promise<ConnectionView[]> {
    return this.store.connections(userId);
  }

  /**
   * Starts connecting. Without a key, OAuth providers answer with the URL to send the user's
   * browser to (the connection is made by the callback) and keyless providers connect at once.
   * With a key, for entries that take one, the key is checked against the server first and the
   * connection is made only if the server accepts it; it works without the entry's OAuth app.
   */
  async connect(
    actor: Actor & { userId: string },
    provider: string,
    input: ConnectInput,
  ): Promise<{ authorizationUrl: string; browserBinding: BrowserBinding } | { connection: ConnectionView }> {
    const entry = this.deps.catalogue.get(provider);
    if (entry.unavailable) throw new AppError('INTEGRATION_NOT_CONFIGURED', entry.unavailable);
    const mcpUrl = await this.mcpUrlFor(entry, input.mcpUrl);
    if (input.apiKey !== undefined) {
      if (!entry.apiKey) throw new AppError('VALIDATION_FAILED', `${entry.name} does not take an API key.`);
      const apiKey = checkedKey(input.apiKey, entry.apiKey.label);
      // Checked before anything is stored: a refused key leaves no connection, and replaces none.
      await this.deps.checkKey(entry, apiKey, { mcpUrl });
      const credentials: Credentials = { apiKey, ...(mcpUrl ? { mcpUrl } : {}) };
      const connection = await this.store.save(actor, entry, credentials, { authType: 'api_key', mcpUrl });
      this.deps.onConnected?.(connection);
      return { connection };
    }
    if (entry.auth.type === 'api_key')
      throw new AppError('VALIDATION_FAILED', `${entry.name} needs ${entry.apiKey?.label ?? 'an API key'}: send it as apiKey.`);
    if (entry.auth.type === 'oauth2' || entry.auth.type === 'mcp') {
      if (entry.signInUnavailable) throw new AppError('INTEGRATION_NOT_CONFIGURED', entry.signInUnavailable);
      return this.authorization.start(actor.userId, entry);
    }
    const connection = await this.store.save(actor, entry, mcpUrl ? { mcpUrl } : {}, { authType: 'none', mcpUrl });
    this.deps.onConnected?.(connection);
    return { connection };
  }

  /**
   * The OAuth callback (see OAuthAuthorization.complete for what it checks): the connection is
   * made, for the user who started the authorization, with the tokens the provider granted.
   */
  async completeAuthorization(
    callback: URLSearchParams,
    context: CallbackContext,
  ): Promise<{ connection: ConnectionView; providerName: string; cookieName: string }> {
    const { userId, entry, tokens, cookieName } = await this.authorization.complete(callback, context);
    const actor = { userId, ip: context.ip };
    const connection = await this.store.save(actor, entry, grantedCredentials(tokens), { authType: 'oauth2', tokens });
    this.deps.onConnected?.(connection);
    return { connection, providerName: entry.name, cookieName };
  }

  /**
   * Disconnects: revokes the grant at the provider when it offers revocation (a refusal or an
   * unreachable provider does not keep the credentials here), then deletes them.
   */
  async disconnect(actor: Actor & { userId: string }, connectionId: string): Promise<{ revoked: boolean }> {
    const row = await this.store.row(actor.userId, connectionId);
    // Credentials that cannot be read are still deleted: revoking them is not possible here. A
    // key is the user's to revoke where they made it: it is not sent to the OAuth app's endpoint.
    const revoked = row.auth_type === 'oauth2' ? await this.authorization.revoke(row.provider, this.credentials.readable(row)) : undefined;
    await this.store.remove(actor, row, revoked === undefined ? undefined : { revoked });
    return { revoked: revoked ?? false };
  }

  /** What an MCP client needs to reach a connection's server. Throws INTEGRATION_DISCONNECTED once it is gone. */
  async target(connectionId: string): Promise<ConnectionTarget> {
    return this.credentials.target(connectionId);
  }

  /** The bearer token an MCP server gets: the access token (renewed when `rejected` is it, or it is expiring) or the API key. */
  async bearer(target: McpTarget, rejected?: string): Promise<string | undefined> {
    return this.credentials.bearer(target, rejected);
  }

  /** The user's own token beside the connection's, where the provider granted one (Slack's search takes only it). */
  async userToken(target: McpTarget): Promise<string | undefined> {
    return this.credentials.userToken(target);
  }

  /**
   * Moves a connection to `to` (a health check or a call found it so), with an
   * `integration.status_changed` event; see setConnectionStatus for the moves allowed. Returns
   * whether it changed.
   */
  async setStatus(connectionId: string, to: ObservedStatus, error?: ReportedError): Promise<boolean> {
    return setConnectionStatus(this.deps, { connectionId, to, error });
  }

  /** A valid access token for an OAuth connection (refreshed first when it is about to expire). */
  async accessToken(userId: string, connectionId: string, options: { rejected?: string } = {}): Promise<string> {
    return this.credentials.accessToken(userId, connectionId, options);
  }

  /**
   * Runs `use` with a valid access token. When `use` throws CredentialsRejected (the server
   * answered 401), the token is refreshed once and `use` runs again.
   */
  async withAccessToken<T>(userId: string, connectionId: string, use: (token: string) => Promise<T>): Promise<T> {
    return this.credentials.withAccessToken(userId, connectionId, use);
  }

  /** Closes the outbound connections kept alive. */
  async close(): Promise<void> {
    await this.deps.guard.close();
  }

  private async mcpUrlFor(entry: ProviderEntry, supplied: string | undefined): Promise<string | null> {
    if (!entry.userSuppliedUrl) {
      if (supplied !== undefined)
        throw new AppError('VALIDATION_FAILED', `The MCP server of ${entry.name} is set by the administrator: send no mcpUrl.`);
      return null;
    }
    if (!supplied) throw new AppError('VALIDATION_FAILED', `${entry.name} needs the URL of your MCP server: send it as mcpUrl.`);
    return (await this.deps.guard.checkUrl(supplied)).href;
  }
}

/** The longest key taken: far above any provider's tokens, far below what could burden a header. */
const maxKeyLength = 1024;

/**
 * The key as it is sent: trimmed (a paste often brings a newline), bounded, and printable ASCII
 * without spaces, as a bearer token must be. The message names the field, never the key.
 */
function checkedKey(raw: string, label: string): string {
  const key = raw.trim();
  if (key === '') throw new AppError('VALIDATION_FAILED', `The ${label} is empty.`);
  if (key.length > maxKeyLength) throw new AppError('VALIDATION_FAILED', `The ${label} is longer than ${maxKeyLength} characters.`);
  if (!/^[\x21-\x7e]+$/.test(key))
    throw new AppError(
      'VALIDATION_FAILED',
      `The ${label} may hold only printable ASCII characters, without spaces: check what was pasted.`,
    );
  return key;
}
