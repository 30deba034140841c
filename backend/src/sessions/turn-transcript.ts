import { sql, type Selectable } from 'kysely';
import type { MessagesTable, PostgresDatabase, RecordedToolCall } from '../database/index.ts';
import { AppError } from '../errors.ts';
import { redactArguments } from '../redaction/index.ts';
import { turnTimeline, type TurnTimeline } from './turn-timeline.ts';

/** A row of `messages` as the agent loop reads it (to build the model's history). */
export type MessageRow = Selectable<MessagesTable>;

export type { RecordedToolCall };

export interface MessageView {
  id: string;
  turnId: string;
  step: number;
  /** `summary`: the model's summary of the conversation's older turns, which stands in for them from here. */
  role: 'user' | 'assistant' | 'tool' | 'summary';
  content: string;
  toolCalls: RecordedToolCall[];
  toolCallId: string | null;
  toolName: string | null;
  toolResult: unknown;
  isError: boolean;
  model: string | null;
  usage: { inputTokens: number; outputTokens: number };
  costUsd: number | null;
  /** costUsd was counted at the default price (DEFAULT_MODEL_PRICE): the model has no price. */
  costEstimated: boolean;
  latencyMs: number | null;
  createdAt: string;
}

/**
 * The transcript: what turns recorded, as clients and the agent loop read it. The writes are the
 * turn store's (turn-store.ts); this is their one read model.
 */
export class TurnTranscript {
  constructor(private readonly database: PostgresDatabase) {}

  /** A conversation's messages in order, after `after` (a message's `seq`), a page at a time. */
  async page(
    userId: string,
    conversationId: string,
    page: { limit: number; after?: number | undefined },
  ): Promise<{ messages: MessageView[]; next: number | null }> {
    const { db } = this.database;
    const owned = await db
      .selectFrom('conversations')
      .select('id')
      .where('id', '=', conversationId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!owned) throw new AppError('CONVERSATION_NOT_FOUND');
    const rows = await db
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .where('seq', '>', String(page.after ?? 0))
      .orderBy('seq')
      .limit(page.limit + 1)
      .execute();
    const shown = rows.slice(0, page.limit);
    return { messages: shown.map(toMessageView), next: rows.length > page.limit ? Number(shown.at(-1)!.seq) : null };
  }

  /**
   * Every message of the conversation, in order, or those after `afterSeq`: what the model reads
   * before its next step (a turn's execution reads the whole of it once, then what came since).
   */
  async history(conversationId: string, afterSeq?: string): Promise<MessageRow[]> {
    let query = this.database.db.selectFrom('messages').selectAll().where('conversation_id', '=', conversationId);
    if (afterSeq !== undefined) query = query.where('seq', '>', afterSeq);
    return query.orderBy('seq').execute();
  }

  /** The turn's last recorded answer (the step a resumed turn goes on from), if it recorded one. */
  async lastAnswer(turnId: string): Promise<MessageView | undefined> {
    const row = await this.database.db
      .selectFrom('messages')
      .selectAll()
      .where('turn_id', '=', turnId)
      .where('role', '=', 'assistant')
      .orderBy('step', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toMessageView(row);
  }

  /**
   * The session's newest assistant message with text (a step that only asked for tools has none),
   * whatever its conversation: what a client that did not follow the stream asks for afterwards.
   * Scoped by user, so another user's session has no answer here.
   */
  async latestAnswer(userId: string, sessionId: string): Promise<MessageView | undefined> {
    const row = await this.database.db
      .selectFrom('messages')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('user_id', '=', userId)
      .where('role', '=', 'assistant')
      .where('content', '<>', '')
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toMessageView(row);
  }

  /** Whether the step's tool results are recorded: its calls are then behind it. */
  async hasToolResults(turnId: string, step: number): Promise<boolean> {
    const row = await this.database.db
      .selectFrom('messages')
      .select('id')
      .where('turn_id', '=', turnId)
      .where('step', '=', step)
      .where('role', '=', 'tool')
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * A turn's answer, in one query: its assistant messages' text in order (those with text, a
   * blank line between), and the tokens its model calls used, failed and cancelled ones included
   * (from model_calls, the record that outlives the transcript).
   */
  async turnAnswer(sessionId: string, turnId: string): Promise<{ text: string; usage: { inputTokens: number; outputTokens: number } }> {
    const { rows } = await sql<{ text: string | null; input: string; output: string }>`
      select
        (select string_agg(content, E'\n\n' order by step, seq) from messages
          where turn_id = ${turnId} and role = 'assistant' and content <> '') as text,
        coalesce(sum(input_tokens), 0) as input,
        coalesce(sum(output_tokens), 0) as output
      from model_calls where session_id = ${sessionId} and turn_id = ${turnId}`.execute(this.database.db);
    const row = rows[0]!;
    return { text: row.text ?? '', usage: { inputTokens: Number(row.input), outputTokens: Number(row.output) } };
  }

  /** The turn's model calls and tool calls on a time axis (see turnTimeline). */
  timeline(userId: string, turnId: string): Promise<TurnTimeline> {
    return turnTimeline(this.database, userId, turnId);
  }

  /** What the user's model calls cost this calendar month (UTC), failed and cancelled ones included. */
  async spentThisMonth(userId: string): Promise<number> {
    const row = await this.database.db
      .selectFrom('model_calls')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<string>('cost_usd'), sql<string>`0`).as('spent'))
      .where('user_id', '=', userId)
      .where('created_at', '>=', sql<Date>`date_trunc('month', now() at time zone 'UTC') at time zone 'UTC'`)
      .executeTakeFirstOrThrow();
    return Number(row.spent);
  }
}

export function toMessageView(row: MessageRow): MessageView {
  return {
    id: row.id,
    turnId: row.turn_id,
    step: row.step,
    role: row.role,
    content: row.content,
    // Shown redacted, as every event shows arguments; the model's own history keeps them whole.
    toolCalls: row.tool_calls.map((call) => ({ ...call, input: redactArguments(call.input) })),
    toolCallId: row.tool_call_id,
    toolName: row.tool_name,
    toolResult: row.tool_result,
    isError: row.is_error,
    model: row.model,
    usage: { inputTokens: row.input_tokens, outputTokens: row.output_tokens },
    costUsd: row.cost_usd === null ? null : Number(row.cost_usd),
    costEstimated: row.cost_estimated,
    latencyMs: row.latency_ms,
    createdAt: row.created_at.toISOString(),
  };
}
