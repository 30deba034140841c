import type { AuditLogRow, Executor, JsonValue } from '../database/index.ts';

export type AuditAction =
  | 'user.created'
  | 'user.updated'
  | 'user.disabled'
  | 'user.enabled'
  | 'token.created'
  | 'token.revoked'
  | 'auth.failure_burst'
  | 'integration.connected'
  | 'integration.disconnected'
  | 'integration.refreshed'
  | 'credentials.rotated'
  | 'tool.approval_decided'
  | 'approval_rule.created'
  | 'approval_rule.removed'
  | 'trigger.delivered'
  | 'trigger.delivery_failed';

export interface AuditEntry {
  action: AuditAction;
  actorUserId?: string | null;
  targetType?: string;
  targetId?: string;
  ip?: string | null;
  details?: { [key: string]: JsonValue };
}

/** Records a security-relevant action. Pass the transaction of the change, so both commit together. */
export async function recordAudit(executor: Executor, entry: AuditEntry): Promise<void> {
  await executor
    .insertInto('audit_log')
    .values({
      action: entry.action,
      actor_user_id: entry.actorUserId ?? null,
      target_type: entry.targetType ?? null,
      target_id: entry.targetId ?? null,
      ip: entry.ip ?? null,
      details: entry.details ?? {},
    })
    .execute();
}

export interface AuditRecord {
  id: string;
  at: string;
  actorUserId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  details: JsonValue;
}

/** Newest first; `before` is the id of the last entry of the previous page. */
export async function listAudit(executor: Executor, options: { limit: number; before?: string; action?: string }): Promise<AuditRecord[]> {
  let query = executor.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(options.limit);
  if (options.before) query = query.where('id', '<', options.before);
  if (options.action) query = query.where('action', '=', options.action);
  return (await query.execute()).map(toAuditRecord);
}

function toAuditRecord(row: AuditLogRow): AuditRecord {
  return {
    id: String(row.id),
    at: row.at.toISOString(),
    actorUserId: row.actor_user_id,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    ip: row.ip,
    details: row.details,
  };
}
