import { AppError } from '../errors.ts';
import type { Catalogue } from './catalogue.ts';
import type { ConnectionRow, ConnectionStatus, ConnectionStore } from './connection-store.ts';
import type { CredentialVault, Credentials } from './credential-vault.ts';
import type { McpTarget } from './mcp-clients.ts';
import type { GrantedTokens } from './oauth-client.ts';
import type { TokenRefresher } from './token-refresher.ts';

/** Thrown by a caller of `withAccessToken` when the server refused the token (HTTP 401). */
export class CredentialsRejected extends Error {}

/** What an MCP client needs to reach a connection's server, with the connection's status when it was read. */
export type ConnectionTarget = McpTarget & { status: ConnectionStatus };

export interface ConnectionCredentialsDeps {
  store: ConnectionStore;
  catalogue: Catalogue;
  vault: CredentialVault;
  refresher: TokenRefresher;
}

/**
 * A connection's credentials at the moment of use: the MCP target (with the user's own server
 * URL, which is sealed), the bearer token an MCP server gets, and fresh OAuth access tokens
 * (renewed by the TokenRefresher when expiring or refused). Nothing here writes a connection.
 */
export class ConnectionCredentials {
  constructor(private readonly deps: ConnectionCredentialsDeps) {}

  /** What an MCP client needs to reach a connection's server. Throws INTEGRATION_DISCONNECTED once it is gone. */
  async target(connectionId: string): Promise<ConnectionTarget> {
    const row = await this.deps.store.byId(connectionId);
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
    const row = await this.deps.store.row(target.userId, target.connectionId).catch(() => {
      throw new AppError('INTEGRATION_DISCONNECTED', `The ${target.entry.name} integration was disconnected.`);
    });
    if (row.auth_type === 'oauth2') return this.deps.refresher.accessToken(row, rejected ? { rejected } : {});
    return openCredentials(this.deps.vault, row).apiKey;
  }

  /** The user's own token beside the connection's, where the provider granted one. */
  async userToken(target: McpTarget): Promise<string | undefined> {
    const row = await this.deps.store.row(target.userId, target.connectionId).catch(() => {
      throw new AppError('INTEGRATION_DISCONNECTED', `The ${target.entry.name} integration was disconnected.`);
    });
    return openCredentials(this.deps.vault, row).userToken;
  }

  /** A valid access token for an OAuth connection (refreshed first when it is about to expire). */
  async accessToken(userId: string, connectionId: string, options: { rejected?: string } = {}): Promise<string> {
    return this.deps.refresher.accessToken(await this.deps.store.row(userId, connectionId), options);
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

  /** The credentials as far as they can be read: none when they cannot (another key, tampered), for revoking what can be. */
  readable(row: ConnectionRow): Credentials {
    try {
      return openCredentials(this.deps.vault, row);
    } catch {
      return {};
    }
  }
}

/** A connection's credentials, decrypted; none for a keyless connection. Throws CREDENTIALS_UNREADABLE. */
export function openCredentials(vault: CredentialVault, row: ConnectionRow): Credentials {
  if (!row.credentials || !row.credentials_key_id) return {};
  return vault.open({ userId: row.user_id, connectionId: row.id }, { keyId: row.credentials_key_id, sealed: Buffer.from(row.credentials) });
}

/**
 * The credentials a token endpoint's grant gives: its access token and type, and its refresh
 * token when it sent one (a refresh that sent none keeps the one it was given before).
 */
export function grantedCredentials(tokens: GrantedTokens): Credentials {
  return {
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    ...(tokens.refreshToken ? { refreshToken: tokens.refreshToken } : {}),
    ...(tokens.userToken ? { userToken: tokens.userToken } : {}),
  };
}
