import { randomUUID } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import { recordAudit, type Actor } from '../accounts/index.ts';
import type { IntegrationConnectionsTable, PostgresDatabase } from '../database/index.ts';
import { AppError, type ReportedError } from '../errors.ts';
import type { Catalogue, ProviderEntry } from './catalogue.ts';
import { providersMet } from './stand-ins.ts';
import type { CredentialVault, Credentials } from './credential-vault.ts';
import type { GrantedTokens } from './oauth-client.ts';
import type { ToolRegistry } from './tool-registry.ts';

/** A stored connection, with its sealed credentials: never leaves the integrations area. */
export type ConnectionRow = Selectable<IntegrationConnectionsTable>;

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

/** One way of connecting an entry: signing in (oauth2), with a key, or with nothing. */
export interface ConnectMethod {
  type: 'oauth2' | 'api_key' | 'none';
  available: boolean;
  unavailableReason: string | null;
}

/** A catalogue entry with the user's connection to it, or a connection whose provider has left the catalogue. */
export interface IntegrationListing {
  provider: string;
  name: string;
  icon: string;
  description: string;
  docs: { oauth?: string; mcp?: string };
  /** The entry's own way to connect: signing in (oauth2), a key, or nothing. */
  authType: 'oauth2' | 'api_key' | 'none';
  /** Every way it can be connected here, each with whether it can now and why not. */
  methods: ConnectMethod[];
  /** What to ask for when it takes a key: the key's name, a hint, where to make one. */
  apiKey: { label: string; help: string | null; docs: string | null } | null;
  /** Each user gives the MCP server's URL when connecting. */
  userSuppliedUrl: boolean;
  /** Providers this entry stands in for (the sandbox: gmail, google-calendar, slack). */
  standsIn: string[];
  available: boolean;
  unavailableReason: string | null;
  connection: ConnectionView | null;
}

export interface ConnectionStoreDeps {
  database: PostgresDatabase;
  catalogue: Catalogue;
  vault: CredentialVault;
  registry: ToolRegistry;
}

/**
 * The `integration_connections` rows of the connection lifecycle: reading a user's connections,
 * saving one (credentials sealed under its id) and removing one. Each change commits with its
 * event (through the registry, so caches and running chats hear of it) and its audit entry.
 * Moving a connection's status is connection-status.ts's; refreshing its tokens, the TokenRefresher's.
 */
export class ConnectionStore {
  constructor(private readonly deps: ConnectionStoreDeps) {}

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
        authType: connectionAuthType(entry),
        methods: connectMethods(entry),
        apiKey: entry.apiKey ? { label: entry.apiKey.label, help: entry.apiKey.help ?? null, docs: entry.apiKey.docs ?? null } : null,
        userSuppliedUrl: entry.userSuppliedUrl,
        standsIn: entry.standsIn,
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
      methods: [],
      apiKey: null,
      userSuppliedUrl: false,
      standsIn: [],
      available: false,
      unavailableReason: 'This integration is no longer offered on this installation: disconnect it.',
      connection: toView(row),
    }));
    return [...listed, ...orphans];
  }

  /** The user's connection, as they may see it; CONNECTION_NOT_FOUND when it is not theirs. */
  async view(userId: string, connectionId: string): Promise<ConnectionView> {
    return toView(await this.row(userId, connectionId));
  }

  /** The user's connections, by provider. */
  async connections(userId: string): Promise<ConnectionView[]> {
    const rows = await this.deps.database.db
      .selectFrom('integration_connections')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('provider')
      .execute();
    return rows.map(toView);
  }

  /** Provider ids the user's usable connections provide: their own, and those their entries stand in for (see stand-ins.ts). */
  async connectedProviders(userId: string): Promise<string[]> {
    const rows = await this.deps.database.db
      .selectFrom('integration_connections')
      .select('provider')
      .where('user_id', '=', userId)
      .where('status', 'in', ['connected', 'degraded'])
      .execute();
    return providersMet(
      rows.map((r) => r.provider),
      this.deps.catalogue,
    );
  }

  /** The user's connection; CONNECTION_NOT_FOUND when it is not theirs or is gone. */
  async row(userId: string, connectionId: string): Promise<ConnectionRow> {
    const row = await this.deps.database.db
      .selectFrom('integration_connections')
      .selectAll()
      .where('id', '=', connectionId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) throw new AppError('CONNECTION_NOT_FOUND');
    return row;
  }

  /** A connection whoever owns it (the caller checks the owner), or undefined once it is gone. */
  async byId(connectionId: string): Promise<ConnectionRow | undefined> {
    return this.deps.database.db.selectFrom('integration_connections').selectAll().where('id', '=', connectionId).executeTakeFirst();
  }

  /**
   * Creates or replaces the user's connection to `entry`, sealing its credentials under the
   * connection's id (known only once the row exists, so a concurrent connect cannot seal under
   * an id that loses), with its event and audit entry, in one transaction. `authType` is how this
   * connection was made: an entry that signs in may also be connected with a key.
   */
  async save(
    actor: Actor & { userId: string },
    entry: ProviderEntry,
    credentials: Credentials,
    extra: { authType: ConnectionRow['auth_type']; tokens?: GrantedTokens; mcpUrl?: string | null },
  ): Promise<ConnectionView> {
    return this.deps.database.transaction(async (tx) => {
      await tx
        .insertInto('integration_connections')
        .values({ id: randomUUID(), user_id: actor.userId, provider: entry.id, auth_type: extra.authType })
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
          auth_type: extra.authType,
          status: 'connected',
          credentials: sealed?.sealed ?? null,
          credentials_key_id: sealed?.keyId ?? null,
          credentials_version: credentials_version + 1,
          token_expires_at: extra.tokens?.expiresAt ?? null,
          // A key carries whatever its maker granted it: no scopes are known for it.
          scopes:
            extra.authType !== 'oauth2'
              ? null
              : (extra.tokens?.scope ??
                (entry.auth.type === 'oauth2' || entry.auth.type === 'mcp' ? entry.auth.scopes?.join(' ') || null : null)),
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
      await this.deps.registry.announce(tx, actor.userId, {
        type: 'integration.connected',
        data: { integrationId: id, provider: entry.id },
      });
      await recordAudit(tx, {
        action: 'integration.connected',
        actorUserId: actor.userId,
        ip: actor.ip,
        targetType: 'integration_connection',
        targetId: id,
        details: { provider: entry.id, authType: extra.authType },
      });
      return toView(row);
    });
  }

  /**
   * Deletes the user's connection and its tools, with `integration.disconnected` (and
   * `tools.changed` when it had tools) and the audit entry. `revocation` says what the provider
   * made of revoking the grant: undefined when it offers no revocation.
   */
  async remove(actor: Actor & { userId: string }, row: ConnectionRow, revocation: { revoked: boolean } | undefined): Promise<void> {
    const revoked = revocation?.revoked ?? false;
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
      const reason = revocation ? (revoked ? 'revoked at the provider' : 'the provider could not revoke it') : undefined;
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
  }
}

/**
 * How a connection to `entry` authenticates. MCP authorization is OAuth whose endpoints and
 * client are discovered rather than configured: its connections hold OAuth tokens, refreshed the
 * same way, and the console connects them the same way (through the browser).
 */
export function connectionAuthType(entry: ProviderEntry): ConnectionRow['auth_type'] {
  return entry.auth.type === 'mcp' ? 'oauth2' : entry.auth.type;
}

/** The ways `entry` can be connected: its own, then a key when it offers one beside signing in. */
function connectMethods(entry: ProviderEntry): ConnectMethod[] {
  const own = connectionAuthType(entry);
  const reason = own === 'oauth2' ? (entry.signInUnavailable ?? null) : (entry.unavailable ?? null);
  const methods: ConnectMethod[] = [{ type: own, available: reason === null, unavailableReason: reason }];
  if (own === 'oauth2' && entry.apiKey)
    methods.push({ type: 'api_key', available: !entry.unavailable, unavailableReason: entry.unavailable ?? null });
  return methods;
}

/** What the user may see of a connection. */
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
