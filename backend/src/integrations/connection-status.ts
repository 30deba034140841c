import { sql, type Transaction } from 'kysely';
import type { DatabaseSchema, PostgresDatabase } from '../database/index.ts';
import type { ReportedError } from '../errors.ts';
import type { ConnectionRow, ConnectionStatus } from './connection-store.ts';
import type { ToolRegistry } from './tool-registry.ts';

/** A status a health check or a call may find a connection in. */
export type ObservedStatus = 'connected' | 'degraded' | 'error';

/** The statuses a connection may move to each observed status from (connecting and refreshing move it otherwise). */
const statusesBefore: Record<ObservedStatus, ConnectionStatus[]> = {
  connected: ['degraded'],
  degraded: ['connected'],
  error: ['connected', 'degraded'],
};

/**
 * Moves a connection to `to` (a health check or a call found it so), with an
 * `integration.status_changed` event to the user and their running chats. A degraded
 * connection recovers; one in `error` (its authorization is gone) leaves it only by connecting
 * again or a successful token refresh. Returns whether it changed.
 */
export async function setConnectionStatus(
  deps: { database: PostgresDatabase; registry: ToolRegistry },
  change: { connectionId: string; to: ObservedStatus; error?: ReportedError | undefined },
): Promise<boolean> {
  const { connectionId, to, error } = change;
  return deps.database.transaction(async (tx) => {
    const row = await tx
      .selectFrom('integration_connections')
      .select(['id', 'user_id', 'provider', 'status'])
      .where('id', '=', connectionId)
      .forUpdate()
      .executeTakeFirst();
    if (!row || !statusesBefore[to].includes(row.status)) return false;
    await tx
      .updateTable('integration_connections')
      .set({ status: to, last_error: to === 'connected' ? null : (error ?? null), updated_at: sql<Date>`now()` })
      .where('id', '=', connectionId)
      .execute();
    await announceStatusChange(deps.registry, tx, row, to, error?.message);
    return true;
  });
}

/**
 * The `integration.status_changed` event of a connection that moved from `row.status` to `to`,
 * to the user and their running chats; the reason is cut to what the event carries. The one
 * shape of that event, whichever change made it.
 */
export async function announceStatusChange(
  registry: ToolRegistry,
  tx: Transaction<DatabaseSchema>,
  row: Pick<ConnectionRow, 'id' | 'user_id' | 'provider' | 'status'>,
  to: ConnectionStatus,
  reason: string | undefined,
): Promise<void> {
  await registry.announce(tx, row.user_id, {
    type: 'integration.status_changed',
    data: {
      integrationId: row.id,
      provider: row.provider,
      from: row.status,
      to,
      ...(reason !== undefined ? { reason: reason.slice(0, 500) } : {}),
    },
  });
}
