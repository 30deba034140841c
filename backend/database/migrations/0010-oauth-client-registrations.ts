import { sql, type Kysely } from 'kysely';

/**
 * MCP authorization: the OAuth clients Agentry registered itself as (RFC 7591 dynamic client
 * registration) at the authorization servers of hosted MCP servers.
 *
 * One registration per authorization server (its issuer) and redirect URI, shared by every user
 * and every connection to that server. What the server answered (client id, and a secret when it
 * issued one) is AES-256-GCM sealed in `registration` under the key `registration_key_id`, with
 * the issuer and redirect URI as associated data, so a record moved to another row fails to open.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('oauth_client_registrations')
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    // Not secret, kept in the clear so a registration the server has forgotten is dropped only if it is still this one.
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('registration', 'bytea', (c) => c.notNull())
    .addColumn('registration_key_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('oauth_client_registrations_pkey', ['issuer', 'redirect_uri'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('oauth_client_registrations').execute();
}
