import { sql, type Kysely } from 'kysely';

/**
 * Integrations: a user's connections to the providers of the catalogue, and the OAuth
 * authorizations in flight.
 *
 * - `integration_connections` holds one connection per user and provider. Its credentials are
 *   AES-256-GCM sealed (`credentials`, under the key `credentials_key_id`); nothing else in the
 *   row is secret. `credentials_version` counts rewrites, so an instance waiting on another's
 *   token refresh can tell when it has happened; `refresh_claimed_*` is that refresh's claim,
 *   which expires if its instance dies.
 * - `oauth_states` holds each authorization started and not yet finished: the hash of its
 *   single-use `state`, the user it belongs to, the PKCE verifier, the exact redirect URI and the
 *   hash of the browser's binding cookie.
 * - `integration_tools` is the tool registry: per connection, each tool its MCP server lists, by
 *   the namespaced name the model sees, with a hash of its description (a change is flagged).
 * - `integration_events` records every tool call (redacted arguments, outcome, duration) and
 *   failure: the usage statistics and the connection's history.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('integration_connections')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('auth_type', 'text', (c) => c.notNull().check(sql`auth_type in ('oauth2', 'api_key', 'none')`))
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('connected')
        .check(sql`status in ('connected', 'degraded', 'error', 'disconnected')`),
    )
    .addColumn('credentials', 'bytea')
    .addColumn('credentials_key_id', 'text')
    .addColumn('credentials_version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('token_expires_at', 'timestamptz')
    .addColumn('scopes', 'text')
    .addColumn('mcp_url', 'text')
    // {code, message} of the last failure that changed the status.
    .addColumn('last_error', 'jsonb')
    .addColumn('refresh_claimed_by', 'text')
    .addColumn('refresh_claimed_until', 'timestamptz')
    .addColumn('connected_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('refreshed_at', 'timestamptz')
    // When an instance last checked the connection's health (a claim: one instance checks each).
    .addColumn('health_checked_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('integration_connections_user_provider_key', ['user_id', 'provider'])
    .execute();

  await db.schema
    .createTable('integration_tools')
    .addColumn('connection_id', 'uuid', (c) => c.notNull().references('integration_connections.id').onDelete('cascade'))
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    // What the model calls it: provider__tool, at most 64 characters.
    .addColumn('name', 'text', (c) => c.notNull())
    // What the MCP server calls it.
    .addColumn('remote_name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('input_schema', 'jsonb', (c) => c.notNull())
    .addColumn('idempotent', 'boolean', (c) => c.notNull())
    .addColumn('description_hash', 'text', (c) => c.notNull())
    // description-changed, hidden-instructions
    .addColumn('flags', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('integration_tools_pkey', ['connection_id', 'remote_name'])
    .execute();
  await db.schema.createIndex('integration_tools_user_idx').on('integration_tools').columns(['user_id', 'name']).execute();

  await db.schema
    .createTable('integration_events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    // Kept after a disconnect: the history and the statistics stay.
    .addColumn('connection_id', 'uuid')
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull().check(sql`type in ('tool_used', 'error')`))
    .addColumn('tool', 'text')
    .addColumn('parameters', 'jsonb')
    .addColumn('outcome', 'text', (c) => c.check(sql`outcome in ('ok', 'error')`))
    .addColumn('error_code', 'text')
    .addColumn('duration_ms', 'integer')
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('integration_events_user_at_idx').on('integration_events').columns(['user_id', 'at']).execute();

  await db.schema
    .createTable('oauth_states')
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('code_verifier', 'text', (c) => c.notNull())
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    // Hash of the nonce in a cookie of the browser that started: the callback must come from it.
    .addColumn('browser_binding', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('oauth_states_expires_idx').on('oauth_states').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('integration_events').execute();
  await db.schema.dropTable('integration_tools').execute();
  await db.schema.dropTable('oauth_states').execute();
  await db.schema.dropTable('integration_connections').execute();
}
