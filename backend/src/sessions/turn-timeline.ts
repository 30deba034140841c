import type { PostgresDatabase, TurnStatus } from '../database/index.ts';
import { AppError, type ReportedError } from '../errors.ts';

/** One model call of a turn, placed on the turn's time axis. */
export interface ModelCallSpan {
  kind: 'model';
  step: number;
  model: string;
  startedAt: string;
  durationMs: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
  error: ReportedError | null;
}

/** One tool call of a turn; `startedAt` and `durationMs` are null for a call that has not run. */
export interface ToolCallSpan {
  kind: 'tool';
  step: number;
  tool: string;
  status: 'pending' | 'awaiting_approval' | 'started' | 'completed' | 'skipped';
  isError: boolean;
  startedAt: string | null;
  durationMs: number | null;
}

export interface TurnTimeline {
  turnId: string;
  sessionId: string;
  status: TurnStatus;
  startedAt: string;
  finishedAt: string | null;
  /** In the order they began. */
  calls: Array<ModelCallSpan | ToolCallSpan>;
}

/**
 * Where a turn's time and money went: its model calls (failed ones included) and tool calls, each
 * with when it began and how long it took, from the records the loop writes anyway (model_calls
 * is written when a call ends, tool_calls when a call finishes, each with its duration). Scoped by
 * user: another user's turn is TURN_NOT_FOUND.
 */
export async function turnTimeline(database: PostgresDatabase, userId: string, turnId: string): Promise<TurnTimeline> {
  const { db } = database;
  const turn = await db
    .selectFrom('turns')
    .select(['id', 'session_id', 'status', 'started_at', 'finished_at'])
    .where('id', '=', turnId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!turn) throw new AppError('TURN_NOT_FOUND');
  const [models, tools] = await Promise.all([
    db
      .selectFrom('model_calls')
      .selectAll()
      .where('session_id', '=', turn.session_id)
      .where('turn_id', '=', turn.id)
      .orderBy('seq')
      .execute(),
    db.selectFrom('tool_calls').selectAll().where('turn_id', '=', turn.id).orderBy('step').orderBy('call_index').execute(),
  ]);
  const modelSpans: ModelCallSpan[] = models.map((call) => ({
    kind: 'model',
    step: call.step,
    model: call.model,
    // Recorded when the call ended.
    startedAt: new Date(call.created_at.getTime() - call.latency_ms).toISOString(),
    durationMs: call.latency_ms,
    inputTokens: call.input_tokens,
    outputTokens: call.output_tokens,
    costUsd: call.cost_usd === null ? null : Number(call.cost_usd),
    error: call.error,
  }));
  const toolSpans: ToolCallSpan[] = tools.map((call) => {
    const ran = call.finished_at !== null && call.duration_ms !== null;
    return {
      kind: 'tool',
      step: call.step,
      tool: call.tool,
      status: call.status,
      isError: call.is_error,
      startedAt: ran ? new Date(call.finished_at!.getTime() - call.duration_ms!).toISOString() : null,
      durationMs: ran ? call.duration_ms : null,
    };
  });
  const order = (span: ModelCallSpan | ToolCallSpan) => (span.startedAt === null ? Infinity : Date.parse(span.startedAt));
  return {
    turnId: turn.id,
    sessionId: turn.session_id,
    status: turn.status,
    startedAt: turn.started_at.toISOString(),
    finishedAt: turn.finished_at?.toISOString() ?? null,
    calls: [...modelSpans, ...toolSpans].sort((a, b) => order(a) - order(b) || a.step - b.step),
  };
}
