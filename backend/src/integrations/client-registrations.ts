import { OAuthClientInformationFullSchema, type OAuthClientInformationFull } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { PostgresDatabase } from '../database/index.ts';
import type { CredentialVault } from './credential-vault.ts';

/** Which registration: one per authorization server and redirect URI. */
export interface RegistrationKey {
  issuer: string;
  redirectUri: string;
}

/**
 * The OAuth clients Agentry registered itself as at MCP servers' authorization servers (RFC 7591),
 * sealed in `oauth_client_registrations`, one per issuer and redirect URI, shared by every user and
 * connection. A registration is made only when none is stored: in one process concurrent callers
 * share one registration, and across instances the first stored wins (a loser's spare client is
 * left unused at the server). Nothing is stored unless the server granted a registration.
 */
export class ClientRegistrations {
  private readonly inFlight = new Map<string, Promise<OAuthClientInformationFull>>();

  constructor(private readonly deps: { database: PostgresDatabase; vault: CredentialVault }) {}

  /** The stored registration, or one made by `register` and stored; a stored one that has expired or cannot be opened is replaced. */
  async ensure(key: RegistrationKey, register: () => Promise<OAuthClientInformationFull>): Promise<OAuthClientInformationFull> {
    const id = `${key.issuer}\0${key.redirectUri}`;
    let pending = this.inFlight.get(id);
    if (!pending) {
      pending = this.getOrRegister(key, register).finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, pending);
    }
    return pending;
  }

  /** Drops the registration when it is still the client `clientId` (the server forgot it): the next `ensure` registers afresh. */
  async drop(key: RegistrationKey, clientId: string): Promise<void> {
    await this.deps.database.db
      .deleteFrom('oauth_client_registrations')
      .where('issuer', '=', key.issuer)
      .where('redirect_uri', '=', key.redirectUri)
      .where('client_id', '=', clientId)
      .execute();
  }

  private async getOrRegister(
    key: RegistrationKey,
    register: () => Promise<OAuthClientInformationFull>,
  ): Promise<OAuthClientInformationFull> {
    const stored = await this.read(key);
    if (stored && usable(stored)) return stored;
    // One that cannot be used any more (its secret expired, or sealed under a key no longer in the ring) is replaced.
    const { db } = this.deps.database;
    await db
      .deleteFrom('oauth_client_registrations')
      .where('issuer', '=', key.issuer)
      .where('redirect_uri', '=', key.redirectUri)
      .execute();
    const registered = await register();
    const sealed = this.deps.vault.sealRegistration(key, registered);
    await db
      .insertInto('oauth_client_registrations')
      .values({
        issuer: key.issuer,
        redirect_uri: key.redirectUri,
        client_id: registered.client_id,
        registration: sealed.sealed,
        registration_key_id: sealed.keyId,
      })
      .onConflict((oc) => oc.columns(['issuer', 'redirect_uri']).doNothing())
      .execute();
    // Another instance may have stored its own meanwhile: everyone uses the one stored.
    return (await this.read(key)) ?? registered;
  }

  private async read(key: RegistrationKey): Promise<OAuthClientInformationFull | undefined> {
    const row = await this.deps.database.db
      .selectFrom('oauth_client_registrations')
      .selectAll()
      .where('issuer', '=', key.issuer)
      .where('redirect_uri', '=', key.redirectUri)
      .executeTakeFirst();
    if (!row) return undefined;
    try {
      const opened = this.deps.vault.openRegistration(key, { keyId: row.registration_key_id, sealed: Buffer.from(row.registration) });
      return OAuthClientInformationFullSchema.parse(opened);
    } catch {
      return undefined;
    }
  }
}

/** Whether a registration's secret (when it has one that expires) is still valid for a while. */
function usable(registration: OAuthClientInformationFull): boolean {
  const expiresAt = registration.client_secret_expires_at;
  return !expiresAt || expiresAt * 1000 > Date.now() + 60_000;
}
