import { sql } from 'kysely';
import type { PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';
import { messageTokenCount } from '../providers/index.ts';
import type { SessionCheckpoints } from './session-checkpoints.ts';
import { contextLimits, sanitizeContext, type DroppedContext } from './context-sanitizer.ts';
import type { SessionProgress } from './session-progress.ts';
import { noStepCounts, type ModelUsage } from './step-records.ts';
import type { TurnLeases } from './turn-leases.ts';
import type { HeldTurn } from './turn-store.ts';
import { toMessageView, type MessageView } from './turn-transcript.ts';

export interface SessionContextDeps {
  database: PostgresDatabase;
  checkpoints: SessionCheckpoints;
  progress: SessionProgress;
  leases: TurnLeases;
}

/** A model-written summary of a conversation's older turns, and what writing it cost. */
export interface ConversationSummary {
  step: number;
  text: string;
  /** The `seq` of the last message it stands in for. */
  throughSeq: string;
  usage: ModelUsage;
  cost: number | null;
  costEstimated: boolean;
  latencyMs: number;
}

/**
 * What a session keeps beyond its transcript, as the model reads it: the session's context (facts
 * the user gave, or the agent remembered) and the running summaries of its conversations' older
 * turns. Every change is one transaction with its checkpoint and event, like every session write.
 */
export class SessionContextStore {
  constructor(private readonly deps: SessionContextDeps) {}

  /**
   * Merges `patch` into the session's context, at its top level (a key set to null is removed),
   * then sanitises the result as a new session's context is (credentials dropped, sizes capped).
   * A merge that would pass the size cap is refused rather than emptying the context. Makes a
   * `context` checkpoint and a `session.context_updated` event saying who changed which keys.
   */
  async merge(options: {
    userId: string;
    sessionId: string;
    patch: Record<string, unknown>;
    by: 'agent' | 'user';
  }): Promise<{ context: Record<string, unknown>; dropped: DroppedContext[] }> {
    const { userId, sessionId, patch, by } = options;
    return this.deps.database.transaction(async (tx) => {
      // Locked first, as every session write does, so two merges never lose each other's keys.
      const current = await tx
        .selectFrom('agent_sessions')
        .select('context')
        .where('id', '=', sessionId)
        .where('user_id', '=', userId)
        .forNoKeyUpdate()
        .executeTakeFirst();
      if (!current) throw new AppError('SESSION_NOT_FOUND');
      const merged: Record<string, unknown> = { ...current.context };
      for (const [key, value] of Object.entries(patch)) {
        if (value === null) delete merged[key];
        else merged[key] = value;
      }
      const { context, dropped } = sanitizeContext(merged);
      if (dropped.some((d) => d.reason === 'too-large'))
        throw new AppError(
          'VALIDATION_FAILED',
          `The session context would pass ${contextLimits.maxBytes} bytes: remove keys first (set them to null).`,
          {
            details: { issues: [{ path: '', message: 'the merged context is too large' }] },
          },
        );
      const row = await tx
        .updateTable('agent_sessions')
        .set({ context, version: sql`version + 1`, last_active_at: sql`now()` })
        .where('id', '=', sessionId)
        .where('user_id', '=', userId)
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.deps.checkpoints.record(tx, {
        session: row,
        reason: 'context',
        events: [{ type: 'session.context_updated', data: { sessionId, by, keys: Object.keys(patch).slice(0, 200) } }],
      });
      return { context, dropped };
    });
  }

  /**
   * Records a summary of the conversation's older turns as a `summary` message (shown in the
   * transcript, and standing in for those turns in the model's history from now on), with the
   * model call that wrote it and a checkpoint, under the turn's lease.
   */
  async recordSummary(turn: HeldTurn, summary: ConversationSummary): Promise<MessageView> {
    const { session } = turn;
    return this.deps.database.transaction(async (tx) => {
      await this.deps.leases.renew(tx, turn.turnId, turn.token);
      const row = await tx
        .insertInto('messages')
        .values({
          conversation_id: turn.conversationId,
          session_id: session.id,
          user_id: session.user_id,
          turn_id: turn.turnId,
          step: summary.step,
          role: 'summary',
          content: summary.text,
          model: session.model,
          input_tokens: summary.usage.inputTokens,
          output_tokens: summary.usage.outputTokens,
          cost_usd: summary.cost,
          cost_estimated: summary.costEstimated,
          latency_ms: summary.latencyMs,
          token_count: messageTokenCount({ text: summary.text }),
          summary_through: summary.throughSeq,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await tx
        .insertInto('model_calls')
        .values({
          user_id: session.user_id,
          session_id: session.id,
          turn_id: turn.turnId,
          step: summary.step,
          model: session.model,
          input_tokens: summary.usage.inputTokens,
          output_tokens: summary.usage.outputTokens,
          cost_usd: summary.cost,
          cost_estimated: summary.costEstimated,
          latency_ms: summary.latencyMs,
          error: null,
        })
        .execute();
      const { inputTokens, outputTokens } = summary.usage;
      await this.deps.progress.recordStep(tx, {
        sessionId: session.id,
        step: summary.step,
        counts: {
          ...noStepCounts,
          messages: 1,
          inputTokens,
          outputTokens,
          costUsd: summary.cost ?? 0,
          costEstimated: summary.costEstimated,
        },
        checkpoint: true,
        events: [{ type: 'message.completed', data: { sessionId: session.id, messageId: row.id, role: 'summary', text: summary.text } }],
      });
      return toMessageView(row);
    });
  }
}
