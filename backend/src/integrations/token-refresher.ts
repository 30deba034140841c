import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { recordAudit } from '../accounts/index.ts';
import type { PostgresDatabase } from '../database/index.ts';
import { AppError, type ReportedError } from '../errors.ts';
import { grantedCredentials, openCredentials } from './connection-credentials.ts';
import { announceStatusChange } from './connection-status.ts';
import type { ConnectionRow } from './connection-store.ts';
import type { ToolRegistry } from './tool-registry.ts';
import type { CredentialVault, Credentials } from './credential-vault.ts';
import { OAuthProviderError, type AuthorizationClient } from './oauth-client.ts';

export interface TokenRefresherDeps {
  database: PostgresDatabase;
  registry: ToolRegistry;
  vault: CredentialVault;
  oauthClient(provider: string): AuthorizationClient | undefined;
  /** How long a claimed refresh may take before another instance may take over (default 30 s). */
  claimTtlMs?: number;
  /** How often an instance waiting on another's refresh looks again (default 50 ms). */
  pollMs?: number;
}

/** Tokens that expire within this are refreshed before use. */
const expirySkewMs = 60_000;

/**
 * Keeps OAuth access tokens fresh. A refresh runs once per connection across every instance: in
 * one process concurrent callers share one promise, and across processes the instance that
 * claims the row (a conditional update with an expiry, so a crashed instance's claim lapses)
 * refreshes while the others wait for the row's credentials to change. The new access token and
 * a rotated refresh token are stored in one update, with the `integration.refreshed` event and
 * its audit entry. No transaction is held open while the provider answers.
 */
export class TokenRefresher {
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly claimTtlMs: number;
  private readonly pollMs: number;

  constructor(private readonly deps: TokenRefresherDeps) {
    this.claimTtlMs = deps.claimTtlMs ?? 30_000;
    this.pollMs = deps.pollMs ?? 50;
  }

  /** The connection's access token, refreshed first when it is about to expire or is the one a server just `rejected`. */
  async accessToken(row: ConnectionRow, options: { rejected?: string } = {}): Promise<string> {
    const credentials = this.open(row);
    if (!credentials.accessToken)
      throw new AppError('CONNECTION_BROKEN', 'This connection has no access token: connect the integration again.');
    const expiring = row.token_expires_at !== null && row.token_expires_at.getTime() - Date.now() < expirySkewMs;
    if (!expiring && options.rejected !== credentials.accessToken) return credentials.accessToken;
    if (row.status === 'error') throw brokenError(row);
    let refresh = this.inFlight.get(row.id);
    if (!refresh) {
      refresh = this.refresh(row.id, row.credentials_version).finally(() => this.inFlight.delete(row.id));
      this.inFlight.set(row.id, refresh);
    }
    return refresh;
  }

  private async refresh(connectionId: string, seenVersion: number): Promise<string> {
    const { db } = this.deps.database;
    const claim = randomUUID();
    const deadline = Date.now() + this.claimTtlMs + 5000;
    for (;;) {
      const claimed = await db
        .updateTable('integration_connections')
        .set({ refresh_claimed_by: claim, refresh_claimed_until: sql<Date>`now() + make_interval(secs => ${this.claimTtlMs / 1000})` })
        .where('id', '=', connectionId)
        .where((eb) => eb.or([eb('refresh_claimed_until', 'is', null), eb('refresh_claimed_until', '<', sql<Date>`now()`)]))
        .returningAll()
        .executeTakeFirst();
      if (claimed && claimed.credentials_version === seenVersion) return this.refreshClaimed(claimed, claim);
      if (claimed) await this.release(connectionId, claim); // refreshed by another instance meanwhile
      const current =
        claimed ?? (await db.selectFrom('integration_connections').selectAll().where('id', '=', connectionId).executeTakeFirst());
      if (!current) throw new AppError('CONNECTION_NOT_FOUND', 'The connection was removed.');
      if (current.credentials_version !== seenVersion) {
        if (current.status === 'error') throw brokenError(current);
        return this.open(current).accessToken!;
      }
      if (Date.now() > deadline)
        throw new OAuthProviderError('The access token could not be refreshed: another instance is still refreshing it.', false);
      await sleep(this.pollMs);
    }
  }

  private async refreshClaimed(row: ConnectionRow, claim: string): Promise<string> {
    const credentials = this.open(row);
    const client = this.deps.oauthClient(row.provider);
    try {
      if (!credentials.refreshToken || !client)
        throw new OAuthProviderError('The provider gave no refresh token, or is no longer offered', true);
      const granted = await client.refresh(credentials.refreshToken);
      const renewed: Credentials = { ...credentials, ...grantedCredentials(granted) };
      const sealed = this.deps.vault.seal({ userId: row.user_id, connectionId: row.id }, renewed);
      await this.deps.database.transaction(async (tx) => {
        const updated = await tx
          .updateTable('integration_connections')
          .set({
            credentials: sealed.sealed,
            credentials_key_id: sealed.keyId,
            credentials_version: sql<number>`credentials_version + 1`,
            token_expires_at: granted.expiresAt ?? null,
            ...(granted.scope ? { scopes: granted.scope } : {}),
            status: 'connected',
            last_error: null,
            refreshed_at: sql<Date>`now()`,
            updated_at: sql<Date>`now()`,
            refresh_claimed_by: null,
            refresh_claimed_until: null,
          })
          .where('id', '=', row.id)
          .where('refresh_claimed_by', '=', claim)
          // A reconnect meanwhile wrote newer credentials: they stay.
          .where('credentials_version', '=', row.credentials_version)
          .returning('id')
          .executeTakeFirst();
        if (!updated) throw new OAuthProviderError('The connection changed while its token was refreshed; retry.', false);
        const data = { integrationId: row.id, provider: row.provider, expiresAt: granted.expiresAt?.toISOString() ?? null };
        await this.deps.registry.announce(tx, row.user_id, { type: 'integration.refreshed', data });
        await recordAudit(tx, {
          action: 'integration.refreshed',
          actorUserId: null,
          targetType: 'integration_connection',
          targetId: row.id,
          details: { provider: row.provider },
        });
      });
      return granted.accessToken;
    } catch (error) {
      if (error instanceof OAuthProviderError && error.permanent) await this.markBroken(row, claim, error);
      else await this.release(row.id, claim);
      throw error instanceof OAuthProviderError && error.permanent ? brokenError(row, error.message) : error;
    }
  }

  /** A refresh the provider refused for good: the connection is in error until the user connects again. */
  private async markBroken(row: ConnectionRow, claim: string, error: OAuthProviderError): Promise<void> {
    const lastError: ReportedError = { code: 'CONNECTION_BROKEN', message: error.message };
    await this.deps.database.transaction(async (tx) => {
      const updated = await tx
        .updateTable('integration_connections')
        .set({
          status: 'error',
          last_error: lastError,
          credentials_version: sql<number>`credentials_version + 1`,
          updated_at: sql<Date>`now()`,
          refresh_claimed_by: null,
          refresh_claimed_until: null,
        })
        .where('id', '=', row.id)
        .where('refresh_claimed_by', '=', claim)
        .where('credentials_version', '=', row.credentials_version)
        .returning('id')
        .executeTakeFirst();
      if (!updated) return;
      await this.deps.registry.announce(tx, row.user_id, {
        type: 'integration.error',
        data: { integrationId: row.id, provider: row.provider, ...lastError },
      });
      if (row.status !== 'error') await announceStatusChange(this.deps.registry, tx, row, 'error', lastError.message);
    });
  }

  private async release(connectionId: string, claim: string): Promise<void> {
    await this.deps.database.db
      .updateTable('integration_connections')
      .set({ refresh_claimed_by: null, refresh_claimed_until: null })
      .where('id', '=', connectionId)
      .where('refresh_claimed_by', '=', claim)
      .execute();
  }

  private open(row: ConnectionRow): Credentials {
    return openCredentials(this.deps.vault, row);
  }
}

function brokenError(row: ConnectionRow, reason?: string): AppError {
  return new AppError(
    'CONNECTION_BROKEN',
    `${reason ?? 'The provider no longer accepts this connection'}: connect ${row.provider} again.`,
    { details: { connectionId: row.id, provider: row.provider } },
  );
}
