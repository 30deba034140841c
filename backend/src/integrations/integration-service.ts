import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import * as oauth from 'oauth4webapi';
import { recordAudit, type Actor } from '../accounts/index.ts';
import type { DatabaseSchema, PostgresDatabase } from '../database/index.ts';
import { AppError, type ReportedError } from '../errors.ts';
import type { EventBus } from '../events/index.ts';
import type { Catalogue, ProviderEntry } from './catalogue.ts';
import type { CredentialVault, Credentials } from './credential-vault.ts';
import { OAuthClient, type GrantedTokens } from './oauth-client.ts';
import type { McpTarget } from './mcp-clients.ts';
import type { OutboundGuard } from './outbound-guard.ts';
import { openCredentials, TokenRefresher, type ConnectionRow } from './token-refresher.ts';
import type { ToolRegistry } from './tool-registry.ts';

export type ConnectionStatus = ConnectionRow['status'];

/** A connection as its user sees it: never its credentials. */
export interface ConnectionView {
  id: string;
  provider: string;
  status: ConnectionStatus;
  authType: ConnectionRow['auth_type'];
  scopes: string | null;
  mcpUrl: string | null;
  lastError: ReportedError | null;
  connectedAt: string;
  refreshedAt: string | null;
  expiresAt: string | null;
}

export interface IntegrationListing {
  provider: string;
  name: string;
  icon: string;
  description: string;
  docs: { oauth?: string; mcp?: string };
  authType: 'oauth2' | 'api_key' | 'none';
  /** Each user gives the MCP server's URL when connecting. */
  userSuppliedUrl: boolean;
  available: boolean;
  unavailableReason: string | null;
  connection: ConnectionView | null;
}

export interface ConnectInput {
  apiKey?: string | undefined;
  mcpUrl?: string | undefined;
}

/** The cookie that ties an authorization to the browser that started it (HttpOnly, for the callback path only). */
export interface BrowserBinding {
  cookieName: string;
  value: string;
  maxAgeS: number;
}

/** Thrown by a caller of `withAccessToken` when the server refused the token (HTTP 401). */
export class CredentialsRejected extends Error {}

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
  /** A connection was made (or made again): its tools are listed next. */
  onConnected?: (connection: ConnectionView) => void;
}

/** How long a started authorization may take. */
const stateTtlMs = 10 * 60_000;

/**
 * A user's connections to the providers of the catalogue: connecting (OAuth with PKCE, an API
 * key, or nothing), the OAuth callback, fresh access tokens, and disconnecting with revocation.
 * Every change commits with its event and audit entry.
 */
export class IntegrationService {
  readonly redirectUri: string;
  private readonly clients = new Map<string, OAuthClient>();
  private readonly refresher: TokenRefresher;

  constructor(private readonly deps: IntegrationServiceDeps) {
    this.redirectUri = `${deps.publicUrl}/v1/oauth/callback`;
    for (const entry of deps.catalogue.providers) {
      if (entry.auth.type === 'oauth2' && !entry.unavailable) this.clients.set(entry.id, new OAuthClient(entry.auth, deps.guard));
    }
    this.refresher = new TokenRefresher({
      database: deps.database,
      registry: deps.registry,
      vault: deps.vault,
      oauthClient: (provider) => this.clients.get(provider),
      ...(deps.refreshClaimTtlMs ? { claimTtlMs: deps.refreshClaimTtlMs } : {}),
    });
  }

  /** The catalogue, each entry with the user's connection to it; then connections whose provider has left the catalogue. */
  async list(userId: string): Promise<IntegrationListing[]> {
    const rows = await this.deps.database.db.selectFrom('integration_connections').selectAll().where('user_id', '=', userId).execute();
    const byProvider = new Map(rows.map((row) => [row.provider, row]));
    const listed = this.deps.catalogue.providers.map((entry) => {
      const row = byProvider.get(entry.id);
      byProvider.delete(entry.id);
      return {
        provider: entry.id,
        name: entry.name,
        icon: entry.icon,
        description: entry.description,
        docs: entry.docs,
        authType: entry.auth.type,
        userSuppliedUrl: entry.userSuppliedUrl,
        available: !entry.unavailable,
        unavailableReason: entry.unavailable ?? null,
        connection: row ? toView(row) : null,
      };
    });
    const orphans = [...byProvider.values()].map((row) => ({
      provider: row.provider,
      name: row.provider,
      icon: 'plug',
      description: '',
      docs: {},
      authType: row.auth_type,
      userSuppliedUrl: false,
      available: false,
      unavailableReason: 'This integration is no longer offered on this installation: disconnect it.',
      connection: toView(row),
    }));
    return [...listed, ...orphans];
  }

  async get(userId: string, connectionId: string): Promise<ConnectionView> {
    return toView(await this.row(userId, connectionId));
  }

  /** Provider ids of the user's usable connections. */
  async connectedProviders(userId: string): Promise<string[]> {
    const rows = await this.deps.database.db
      .selectFrom('integration_connections')
      .select('provider')
      .where('user_id', '=', userId)
      .where('status', 'in', ['connected', 'degraded'])
      .execute();
    return rows.map((r) => r.provider);
  }

  /**
   * Starts connecting. OAuth providers answer with the URL to send the user's browser to (the
   * connection is made by the callback); API-key and keyless providers are connected at once.
   */
  async connect(
    actor: Actor & { userId: string },
    provider: string,
    input: ConnectInput,
  ): Promise<{ authorizationUrl: string; browserBinding: BrowserBinding } | { connection: ConnectionView }> {
    const entry = this.deps.catalogue.get(provider);
    if (entry.unavailable) throw new AppError('INTEGRATION_NOT_CONFIGURED', entry.unavailable);
    const mcpUrl = await this.mcpUrlFor(entry, input.mcpUrl);
    if (entry.auth.type !== 'api_key' && input.apiKey !== undefined)
      throw new AppError('VALIDATION_FAILED', `${entry.name} does not take an API key.`);
    if (entry.auth.type === 'oauth2') return this.startAuthorization(actor.userId, entry);
    if (entry.auth.type === 'api_key' && !input.apiKey)
      throw new AppError('VALIDATION_FAILED', `${entry.name} needs an API key: send it as apiKey.`);
    const credentials: Credentials = { ...(input.apiKey ? { apiKey: input.apiKey } : {}), ...(mcpUrl ? { mcpUrl } : {}) };
    const connection = await this.deps.database.transaction((tx) => this.store(tx, actor, entry, credentials, { mcpUrl }));
    this.deps.onConnected?.(connection);
    return { connection };
  }

  /**
   * The OAuth callback. The state is single-use and expiring, and belongs to the user who started
   * the authorization: a caller signed in as someone else is refused, and so is one whose token
   * failed (`callerUserId: null`), with the same answer, so it tells no valid token from an invalid
   * one. The code is traded for
   * tokens with the PKCE verifier and the exact redirect URI of the start.
   */
  async completeAuthorization(
    callback: URLSearchParams,
    context: { browserBinding: (cookieName: string) => string | undefined; callerUserId?: string | null; ip: string | null },
  ): Promise<{ connection: ConnectionView; providerName: string; cookieName: string }> {
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
    if (!client) throw new AppError('INTEGRATION_NOT_CONFIGURED', entry.unavailable);
    const tokens = await client.exchangeCode(callback, state, started.code_verifier, started.redirect_uri);
    const actor = { userId: started.user_id, ip: context.ip };
    const connection = await this.deps.database.transaction((tx) => this.store(tx, actor, entry, toCredentials(tokens), { tokens }));
    this.deps.onConnected?.(connection);
    return { connection, providerName: entry.name, cookieName };
  }

  /**
   * Disconnects: revokes the grant at the provider when it offers revocation (a refusal or an
   * unreachable provider does not keep the credentials here), then deletes them.
   */
  async disconnect(actor: Actor & { userId: string }, connectionId: string): Promise<{ revoked: boolean }> {
    const row = await this.row(actor.userId, connectionId);
    const client = this.clients.get(row.provider);
    let revoked = false;
    if (client?.canRevoke && row.credentials) {
      // Credentials that cannot be read are still deleted: revoking them is not possible here.
      const credentials = (() => {
        try {
          return openCredentials(this.deps.vault, row);
        } catch {
          return {};
        }
      })();
      const token = credentials.refreshToken ?? credentials.accessToken;
      if (token)
        revoked = await client.revoke(token).then(
          () => true,
          () => false,
        );
    }
    await this.deps.database.transaction(async (tx) => {
      // Locked first: a listing that lands meanwhile is either all in, or waits and finds it gone.
      await tx.selectFrom('integration_connections').select('id').where('id', '=', row.id).forUpdate().executeTakeFirst();
      const removedTools = await this.deps.registry.namesOf(tx, row.id);
      const deleted = await tx
        .deleteFrom('integration_connections')
        .where('id', '=', row.id)
        .where('user_id', '=', actor.userId)
        .returning('id')
        .executeTakeFirst();
      if (!deleted) throw new AppError('CONNECTION_NOT_FOUND');
      const reason = client?.canRevoke ? (revoked ? 'revoked at the provider' : 'the provider could not revoke it') : undefined;
      await this.deps.registry.announce(tx, actor.userId, {
        type: 'integration.disconnected',
        data: { integrationId: row.id, provider: row.provider, ...(reason ? { reason } : {}) },
      });
      if (removedTools.length > 0)
        await this.deps.registry.announce(tx, actor.userId, {
          type: 'tools.changed',
          data: { integrationId: row.id, added: [], removed: removedTools, changed: [] },
        });
      await recordAudit(tx, {
        action: 'integration.disconnected',
        actorUserId: actor.userId,
        ip: actor.ip,
        targetType: 'integration_connection',
        targetId: row.id,
        details: { provider: row.provider, revoked },
      });
    });
    return { revoked };
  }

  /** What an MCP client needs to reach a connection's server. Throws INTEGRATION_DISCONNECTED once it is gone. */
  async target(connectionId: string): Promise<McpTarget & { status: ConnectionStatus }> {
    const row = await this.deps.database.db
      .selectFrom('integration_connections')
      .selectAll()
      .where('id', '=', connectionId)
      .executeTakeFirst();
    if (!row) throw new AppError('INTEGRATION_DISCONNECTED', 'The integration was disconnected: its tools are gone.');
    const mcpUrl = row.mcp_url ? (openCredentials(this.deps.vault, row).mcpUrl ?? null) : null;
    return {
      connectionId: row.id,
      userId: row.user_id,
      provider: row.provider,
      entry: this.deps.catalogue.get(row.provider),
      mcpUrl,
      status: row.status,
    };
  }

  /** The bearer token an MCP server gets: the access token (renewed when `rejected` is it, or it is expiring) or the API key. */
  async bearer(target: McpTarget, rejected?: string): Promise<string | undefined> {
    const row = await this.row(target.userId, target.connectionId).catch(() => {
      throw new AppError('INTEGRATION_DISCONNECTED', `The ${target.entry.name} integration was disconnected.`);
    });
    if (row.auth_type === 'oauth2') return this.refresher.accessToken(row, rejected ? { rejected } : {});
    return openCredentials(this.deps.vault, row).apiKey;
  }

  /**
   * Moves a connection to `to` (a health check or a call found it so), with an
   * `integration.status_changed` event to the user and their running chats. A degraded
   * connection recovers; one in `error` (its authorization is gone) leaves it only by connecting
   * again or a successful token refresh. Returns whether it changed.
   */
  async setStatus(connectionId: string, to: 'connected' | 'degraded' | 'error', error?: ReportedError): Promise<boolean> {
    const from: Record<typeof to, ConnectionStatus[]> = {
      connected: ['degraded'],
      degraded: ['connected'],
      error: ['connected', 'degraded'],
    };
    return this.deps.database.transaction(async (tx) => {
      const row = await tx
        .selectFrom('integration_connections')
        .select(['id', 'user_id', 'provider', 'status'])
        .where('id', '=', connectionId)
        .forUpdate()
        .executeTakeFirst();
      if (!row || !from[to].includes(row.status)) return false;
      await tx
        .updateTable('integration_connections')
        .set({ status: to, last_error: to === 'connected' ? null : (error ?? null), updated_at: sql<Date>`now()` })
        .where('id', '=', connectionId)
        .execute();
      await this.deps.registry.announce(tx, row.user_id, {
        type: 'integration.status_changed',
        data: {
          integrationId: row.id,
          provider: row.provider,
          from: row.status,
          to,
          ...(error ? { reason: error.message.slice(0, 500) } : {}),
        },
      });
      return true;
    });
  }

  /** The user's connections, for discovery. */
  async connections(userId: string): Promise<ConnectionView[]> {
    const rows = await this.deps.database.db
      .selectFrom('integration_connections')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('provider')
      .execute();
    return rows.map(toView);
  }

  /** Closes the outbound connections kept alive. */
  async close(): Promise<void> {
    await this.deps.guard.close();
  }

  /** A valid access token for an OAuth connection (refreshed first when it is about to expire). */
  async accessToken(userId: string, connectionId: string, options: { rejected?: string } = {}): Promise<string> {
    return this.refresher.accessToken(await this.row(userId, connectionId), options);
  }

  /**
   * Runs `use` with a valid access token. When `use` throws CredentialsRejected (the server
   * answered 401), the token is refreshed once and `use` runs again.
   */
  async withAccessToken<T>(userId: string, connectionId: string, use: (token: string) => Promise<T>): Promise<T> {
    const token = await this.accessToken(userId, connectionId);
    try {
      return await use(token);
    } catch (error) {
      if (!(error instanceof CredentialsRejected)) throw error;
      try {
        return await use(await this.accessToken(userId, connectionId, { rejected: token }));
      } catch (again) {
        if (again instanceof CredentialsRejected)
          throw new AppError('CONNECTION_BROKEN', 'The server refuses even a renewed access token: connect the integration again.');
        throw again;
      }
    }
  }

  private async startAuthorization(
    userId: string,
    entry: ProviderEntry,
  ): Promise<{ authorizationUrl: string; browserBinding: BrowserBinding }> {
    const state = randomBytes(32).toString('base64url');
    const binding = randomBytes(32).toString('base64url');
    const codeVerifier = oauth.generateRandomCodeVerifier();
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
      authorizationUrl: await this.clients.get(entry.id)!.authorizationUrl(state, codeVerifier, this.redirectUri),
      browserBinding: { cookieName: bindingCookieName(hash(state)), value: binding, maxAgeS: stateTtlMs / 1000 },
    };
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

  /**
   * Creates or replaces the user's connection to `entry`, sealing its credentials under the
   * connection's id (known only once the row exists, so a concurrent connect cannot seal under
   * an id that loses), with its event and audit entry.
   */
  private async store(
    tx: Transaction<DatabaseSchema>,
    actor: Actor & { userId: string },
    entry: ProviderEntry,
    credentials: Credentials,
    extra: { tokens?: GrantedTokens; mcpUrl?: string | null },
  ): Promise<ConnectionView> {
    await tx
      .insertInto('integration_connections')
      .values({ id: randomUUID(), user_id: actor.userId, provider: entry.id, auth_type: entry.auth.type })
      .onConflict((oc) => oc.columns(['user_id', 'provider']).doNothing())
      .execute();
    const { id, credentials_version } = await tx
      .selectFrom('integration_connections')
      .select(['id', 'credentials_version'])
      .where('user_id', '=', actor.userId)
      .where('provider', '=', entry.id)
      .forUpdate()
      .executeTakeFirstOrThrow();
    const sealed =
      Object.keys(credentials).length > 0 ? this.deps.vault.seal({ userId: actor.userId, connectionId: id }, credentials) : undefined;
    const row = await tx
      .updateTable('integration_connections')
      .set({
        auth_type: entry.auth.type,
        status: 'connected',
        credentials: sealed?.sealed ?? null,
        credentials_key_id: sealed?.keyId ?? null,
        credentials_version: credentials_version + 1,
        token_expires_at: extra.tokens?.expiresAt ?? null,
        scopes: extra.tokens?.scope ?? (entry.auth.type === 'oauth2' ? entry.auth.scopes.join(' ') || null : null),
        // The URL itself is sealed with the credentials (it may carry a key); the row shows its origin.
        mcp_url: extra.mcpUrl ? new URL(extra.mcpUrl).origin : null,
        last_error: null,
        refresh_claimed_by: null,
        refresh_claimed_until: null,
        connected_at: sql<Date>`now()`,
        refreshed_at: null,
        updated_at: sql<Date>`now()`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.deps.registry.announce(tx, actor.userId, { type: 'integration.connected', data: { integrationId: id, provider: entry.id } });
    await recordAudit(tx, {
      action: 'integration.connected',
      actorUserId: actor.userId,
      ip: actor.ip,
      targetType: 'integration_connection',
      targetId: id,
      details: { provider: entry.id },
    });
    return toView(row);
  }

  private async row(userId: string, connectionId: string): Promise<ConnectionRow> {
    const row = await this.deps.database.db
      .selectFrom('integration_connections')
      .selectAll()
      .where('id', '=', connectionId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) throw new AppError('CONNECTION_NOT_FOUND');
    return row;
  }
}

function toCredentials(tokens: GrantedTokens): Credentials {
  return {
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    ...(tokens.refreshToken ? { refreshToken: tokens.refreshToken } : {}),
  };
}

function bindingCookieName(stateHash: string): string {
  return `agentry_oauth_${stateHash.slice(0, 16)}`;
}

function hash(state: string): string {
  return createHash('sha256').update(state).digest('hex');
}

function toView(row: ConnectionRow): ConnectionView {
  return {
    id: row.id,
    provider: row.provider,
    status: row.status,
    authType: row.auth_type,
    scopes: row.scopes,
    mcpUrl: row.mcp_url,
    lastError: (row.last_error as ConnectionView['lastError']) ?? null,
    connectedAt: row.connected_at.toISOString(),
    refreshedAt: row.refreshed_at?.toISOString() ?? null,
    expiresAt: row.token_expires_at?.toISOString() ?? null,
  };
}
