import { sql } from 'kysely';
import { toJsonText, type PostgresDatabase } from '../database/index.ts';
import { isAppError, type ErrorCode } from '../errors.ts';
import type { EventBus } from '../events/index.ts';
import { redactArguments } from '../redaction/index.ts';
import type { IntegrationService } from './integration-service.ts';
import { McpUnavailable, type McpTarget } from './mcp-clients.ts';
import type { ToolRegistry } from './tool-registry.ts';

/** One tool's use, as the statistics show it. */
export interface ToolStats {
  tool: string;
  provider: string;
  calls: number;
  errors: number;
  p50Ms: number;
  p95Ms: number;
  lastUsedAt: string;
}

/** The width of a usage bucket: an hour or a day, starting on the UTC hour or midnight. */
export type UsageBucketSize = 'hour' | 'day';

/** The calls of one hour or day. */
export interface UsageBucket {
  /** ISO time the bucket starts at (UTC). */
  start: string;
  calls: number;
  errors: number;
  /** The 95th percentile duration of the bucket's calls; null when it has none. */
  p95Ms: number | null;
}

/** The connection a call or failure is recorded against. */
type UsageTarget = Pick<McpTarget, 'connectionId' | 'userId' | 'provider'>;

/** The columns every usage record of a connection starts with. */
function eventColumns(target: UsageTarget) {
  return { user_id: target.userId, connection_id: target.connectionId, provider: target.provider };
}

export interface ToolUsageDeps {
  database: PostgresDatabase;
  bus: EventBus;
  registry: ToolRegistry;
  integrations: Pick<IntegrationService, 'setStatus'>;
  onError(error: unknown, context: string): void;
}

const bucketMs: Record<UsageBucketSize, number> = { hour: 3_600_000, day: 86_400_000 };

/**
 * The usage record (`integration_events`): every tool call with its redacted arguments, outcome
 * and duration (`integration.tool_used`), every failure of a connection (`integration.error`,
 * and the connection degraded or in error), and the statistics read from it.
 */
export class ToolUsage {
  constructor(private readonly deps: ToolUsageDeps) {}

  /** One call in the usage record and the user's event stream, in one transaction; `code` when it failed. */
  async recordCall(
    target: UsageTarget,
    call: { tool: string; input: Record<string, unknown>; durationMs: number; code?: ErrorCode | undefined },
  ): Promise<void> {
    const { tool, code } = call;
    const args = redactArguments(call.input);
    const durationMs = Math.round(call.durationMs);
    await this.deps.database.transaction(async (tx) => {
      await tx
        .insertInto('integration_events')
        .values({
          ...eventColumns(target),
          type: 'tool_used',
          tool,
          parameters: toJsonText(args),
          outcome: code ? 'error' : 'ok',
          error_code: code ?? null,
          duration_ms: durationMs,
        })
        .execute();
      // To the user's integrations topic only: a call changes nothing the chats need to hear of.
      await this.deps.bus.publish(tx, {
        userId: target.userId,
        topic: 'integrations',
        event: {
          type: 'integration.tool_used',
          data: {
            integrationId: target.connectionId,
            provider: target.provider,
            tool,
            arguments: args,
            outcome: code ? 'error' : 'ok',
            durationMs,
            ...(code ? { errorCode: code } : {}),
          },
        },
      });
    });
  }

  /**
   * The connection failed (not the tool): `integration.error`, and the connection is degraded
   * (its server cannot be reached or answers badly) or in error (its authorization is gone).
   * Any other error is not the connection's, and is not recorded; a failure to record is logged.
   */
  async recordFailure(target: UsageTarget, error: unknown): Promise<void> {
    if (!isAppError(error) || !(error.code === 'CONNECTION_BROKEN' || (error instanceof McpUnavailable && error.failure.transport))) return;
    const failure = { code: error.code, message: error.message };
    try {
      await this.deps.database.transaction(async (tx) => {
        await tx
          .insertInto('integration_events')
          .values({
            ...eventColumns(target),
            type: 'error',
            error_code: failure.code,
          })
          .execute();
        await this.deps.registry.announce(tx, target.userId, {
          type: 'integration.error',
          data: { integrationId: target.connectionId, provider: target.provider, ...failure },
        });
      });
      await this.deps.integrations.setStatus(target.connectionId, error.code === 'CONNECTION_BROKEN' ? 'error' : 'degraded', failure);
    } catch (recording) {
      this.deps.onError(recording, `could not record the failure of ${target.connectionId}`);
    }
  }

  /** Per tool: calls, errors, p50/p95 duration and last use, within the range. */
  async stats(userId: string, range: { from?: Date | undefined; to?: Date | undefined }): Promise<ToolStats[]> {
    let query = this.deps.database.db
      .selectFrom('integration_events')
      .select((eb) => [
        'tool',
        'provider',
        eb.fn.countAll<string>().as('calls'),
        sql<string>`count(*) filter (where outcome = 'error')`.as('errors'),
        sql<number>`percentile_cont(0.5) within group (order by duration_ms)`.as('p50'),
        sql<number>`percentile_cont(0.95) within group (order by duration_ms)`.as('p95'),
        eb.fn.max('at').as('last_used_at'),
      ])
      .where('user_id', '=', userId)
      .where('type', '=', 'tool_used')
      .groupBy(['tool', 'provider'])
      .orderBy('calls', 'desc');
    if (range.from) query = query.where('at', '>=', range.from);
    if (range.to) query = query.where('at', '<', range.to);
    return (await query.execute()).map((row) => ({
      tool: row.tool ?? '',
      provider: row.provider,
      calls: Number(row.calls),
      errors: Number(row.errors),
      p50Ms: Math.round(Number(row.p50)),
      p95Ms: Math.round(Number(row.p95)),
      lastUsedAt: new Date(row.last_used_at).toISOString(),
    }));
  }

  /**
   * Calls, errors and p95 duration per hour or day within `[from, to)`, for a chart over time:
   * every bucket of the range is present, those without calls as zeros, so the caller can draw
   * the axis as it is. The caller keeps the range bounded (a bucket each hour of a year is large).
   */
  async usage(userId: string, range: { from: Date; to: Date; bucket: UsageBucketSize }): Promise<UsageBucket[]> {
    // Truncated in a subquery, so the bucket parameter appears once and the grouping names a column.
    const calls = this.deps.database.db
      .selectFrom('integration_events')
      .select([sql<Date | string>`date_trunc(${range.bucket}, at, 'UTC')`.as('start'), 'outcome', 'duration_ms'])
      .where('user_id', '=', userId)
      .where('type', '=', 'tool_used')
      .where('at', '>=', range.from)
      .where('at', '<', range.to)
      .as('calls');
    const rows = await this.deps.database.db
      .selectFrom(calls)
      .select((eb) => [
        'start',
        eb.fn.countAll<string>().as('calls'),
        sql<string>`count(*) filter (where outcome = 'error')`.as('errors'),
        sql<number | null>`percentile_cont(0.95) within group (order by duration_ms)`.as('p95'),
      ])
      .groupBy('start')
      .execute();
    const counted = new Map(rows.map((row) => [new Date(row.start).getTime(), row]));
    const size = bucketMs[range.bucket];
    const buckets: UsageBucket[] = [];
    for (let start = Math.floor(range.from.getTime() / size) * size; start < range.to.getTime(); start += size) {
      const row = counted.get(start);
      buckets.push({
        start: new Date(start).toISOString(),
        calls: Number(row?.calls ?? 0),
        errors: Number(row?.errors ?? 0),
        p95Ms: row?.p95 == null ? null : Math.round(Number(row.p95)),
      });
    }
    return buckets;
  }
}
