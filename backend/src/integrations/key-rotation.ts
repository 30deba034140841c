import { sql } from 'kysely';
import type { PostgresDatabase } from '../database/index.ts';
import type { CredentialVault } from './credential-vault.ts';
import { openCredentials } from './connection-credentials.ts';

/**
 * Re-encrypts every stored credential (and every MCP client registration) that is not under the keyring's current key, a row at a
 * time under its lock, so a running server's refreshes interleave safely. Rows already rewritten
 * are skipped: running it again after an interruption finishes the job.
 */
export async function rotateCredentials(
  database: PostgresDatabase,
  vault: CredentialVault,
): Promise<{ rewritten: number; unreadable: number; byKey: Record<string, number> }> {
  let rewritten = 0;
  const unreadable = new Set<string>();
  for (;;) {
    let query = database.db
      .selectFrom('integration_connections')
      .select('id')
      .where('credentials', 'is not', null)
      .where('credentials_key_id', '<>', vault.currentKeyId)
      .orderBy('id')
      .limit(100);
    // Rows that cannot be read are counted and passed over, not retried.
    if (unreadable.size > 0) query = query.where('id', 'not in', [...unreadable]);
    const batch = await query.execute();
    if (batch.length === 0) break;
    for (const { id } of batch) {
      await database.transaction(async (tx) => {
        const row = await tx.selectFrom('integration_connections').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
        if (!row?.credentials || row.credentials_key_id === vault.currentKeyId) return;
        let credentials;
        try {
          credentials = openCredentials(vault, row);
        } catch {
          unreadable.add(id);
          return;
        }
        const sealed = vault.seal({ userId: row.user_id, connectionId: row.id }, credentials);
        await tx
          .updateTable('integration_connections')
          .set({ credentials: sealed.sealed, credentials_key_id: sealed.keyId, updated_at: sql<Date>`now()` })
          .where('id', '=', id)
          .execute();
        rewritten += 1;
      });
    }
  }
  const registrations = await rotateRegistrations(database, vault);
  rewritten += registrations.rewritten;
  const counts = await database.db
    .selectFrom('integration_connections')
    .select(['credentials_key_id', (eb) => eb.fn.countAll<string>().as('count')])
    .where('credentials', 'is not', null)
    .groupBy('credentials_key_id')
    .execute();
  return {
    rewritten,
    unreadable: unreadable.size + registrations.unreadable,
    byKey: Object.fromEntries(counts.map((c) => [c.credentials_key_id ?? '', Number(c.count)])),
  };
}

/**
 * The client registrations of MCP authorization, re-sealed the same way: one left under a key
 * later removed could not be opened, and the connections made under it could no longer refresh.
 */
async function rotateRegistrations(database: PostgresDatabase, vault: CredentialVault): Promise<{ rewritten: number; unreadable: number }> {
  let rewritten = 0;
  let unreadable = 0;
  const rows = await database.db
    .selectFrom('oauth_client_registrations')
    .select(['issuer', 'redirect_uri'])
    .where('registration_key_id', '<>', vault.currentKeyId)
    .execute();
  for (const key of rows) {
    await database.transaction(async (tx) => {
      const row = await tx
        .selectFrom('oauth_client_registrations')
        .selectAll()
        .where('issuer', '=', key.issuer)
        .where('redirect_uri', '=', key.redirect_uri)
        .forUpdate()
        .executeTakeFirst();
      if (!row || row.registration_key_id === vault.currentKeyId) return;
      const owner = { issuer: row.issuer, redirectUri: row.redirect_uri };
      let registration: unknown;
      try {
        registration = vault.openRegistration(owner, { keyId: row.registration_key_id, sealed: Buffer.from(row.registration) });
      } catch {
        unreadable += 1;
        return;
      }
      const sealed = vault.sealRegistration(owner, registration as object);
      await tx
        .updateTable('oauth_client_registrations')
        .set({ registration: sealed.sealed, registration_key_id: sealed.keyId })
        .where('issuer', '=', row.issuer)
        .where('redirect_uri', '=', row.redirect_uri)
        .execute();
      rewritten += 1;
    });
  }
  return { rewritten, unreadable };
}
