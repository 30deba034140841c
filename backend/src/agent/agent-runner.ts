import { randomUUID } from 'node:crypto';
import { jsonSchema, streamText, tool, type ToolSet } from 'ai';
import { sql, type Selectable } from 'kysely';
import type { AgentSessionsTable, Executor, MessagesTable, PostgresDatabase, TurnStatus } from '../database/index.ts';
import { AppError, isAppError } from '../errors.ts';
import type { AgentryEvent, EventBus } from '../events/index.ts';
import type { ToolDefinition } from '../knowledge/index.ts';
import { costOf, type LanguageModels } from '../providers/index.ts';
import { sessionTopic, type SessionService } from '../sessions/index.ts';
import { completeSessionToolName, type PromptUser } from '../templates/index.ts';
import { DeltaCoalescer } from './delta-publisher.ts';
import { toModelMessages, type RecordedToolCall } from './message-history.ts';

type SessionRow = Selectable<AgentSessionsTable>;
type MessageRow = Selectable<MessagesTable>;

export interface MessageView {
  id: string;
  turnId: string;
  step: number;
  role: 'user' | 'assistant' | 'tool';
  content: string;
  toolCalls: RecordedToolCall[];
  toolCallId: string | null;
  toolName: string | null;
  toolResult: unknown;
  isError: boolean;
  model: string | null;
  usage: { inputTokens: number; outputTokens: number };
  costUsd: number | null;
  latencyMs: number | null;
  createdAt: string;
}

export interface TurnOutcome {
  turnId: string;
  status: TurnStatus;
  /** The turn's last assistant message, if it wrote one. */
  message: MessageView | null;
  error?: { code: string; message: string } | undefined;
}

export interface AgentRunnerDeps {
  database: PostgresDatabase;
  bus: EventBus;
  sessions: SessionService;
  models: LanguageModels;
  /** The tools a session may call, bound to its user, by name. */
  toolsFor: (userId: string, names: readonly string[]) => Map<string, ToolDefinition>;
  /** Model calls per turn before it ends with `step_limit`. */
  maxSteps: number;
  /** Spend per user per calendar month (UTC) past which new messages are refused; none when undefined. */
  spendLimitMonthlyUsd?: number | undefined;
  /** Where a turn's unexpected failure is logged (once; the turn records its code). */
  onError: (error: unknown, context: string) => void;
}


/**
 * Runs turns: a user message, then steps of one model call plus the tool calls it asks for, until
 * the model answers without tools or the step limit. Each step ends in one transaction (its
 * messages, the session's counters, a checkpoint and the events); text streams as coalesced
 * `message.delta` events while the model writes.
 *
 * One turn per session at a time, per instance: a message sent while a turn runs is refused with
 * 409 SESSION_BUSY (the client sends it again when the turn ends). Leases that make this hold
 * across instances come with durable execution.
 */
export class AgentRunner {
  private readonly active = new Map<string, { turnId: string; controller: AbortController; done: Promise<TurnOutcome> }>();

  constructor(private readonly deps: AgentRunnerDeps) {}

  /**
   * Stores the user's message and starts the turn; `done` settles when the turn ends. The first
   * message of a conversation that has no session yet starts one with the user's default agent.
   */
  async send(user: PromptUser, conversationId: string, content: string): Promise<{ turnId: string; messageId: string; done: Promise<TurnOutcome> }> {
    const { db } = this.deps.database;
    const userId = user.id;
    const conversation = await db.selectFrom('conversations').select(['id', 'session_id']).where('id', '=', conversationId).where('user_id', '=', userId).executeTakeFirst();
    if (!conversation) throw new AppError('CONVERSATION_NOT_FOUND');
    const sessionId = conversation.session_id ?? (await this.deps.sessions.create(user, { conversationId })).session.id;
    const session = await db.selectFrom('agent_sessions').selectAll().where('id', '=', sessionId).executeTakeFirstOrThrow();
    if (session.status !== 'running') throw new AppError('SESSION_NOT_RUNNING', `The session is ${session.status}${session.status === 'paused' ? ': resume it first' : ''}.`);
    if (this.active.has(session.id)) throw new AppError('SESSION_BUSY');
    await this.checkSpend(userId);
    // The slot is taken before the first await, and `done` exists from the start, so a cancel or
    // stop that arrives while the turn is being stored waits for it to end.
    const controller = new AbortController();
    let settle!: (outcome: TurnOutcome) => void;
    const done = new Promise<TurnOutcome>((resolve) => (settle = resolve));
    this.active.set(session.id, { turnId: '', controller, done });
    let stored: { turnId: string; messageId: string };
    try {
      stored = await this.deps.database.transaction(async (tx) => {
        const turn = await tx.insertInto('turns').values({ session_id: session.id, conversation_id: conversationId, user_id: userId, status: 'running' }).returning('id').executeTakeFirstOrThrow();
        const message = await tx
          .insertInto('messages')
          .values({ conversation_id: conversationId, session_id: session.id, user_id: userId, turn_id: turn.id, role: 'user', content })
          .returning('id')
          .executeTakeFirstOrThrow();
        // The session row first (refused unless it is still running), events last: the lock order of every session write.
        await this.deps.sessions.recordStep(tx, session.id, 0, { ...noCounts, messages: 1 }, {
          checkpoint: false,
          events: [{ type: 'message.completed', data: { sessionId: session.id, messageId: message.id, role: 'user', text: content } }],
        });
        return { turnId: turn.id, messageId: message.id };
      });
    } catch (error) {
      this.active.delete(session.id);
      settle({ turnId: '', status: 'cancelled', message: null });
      throw error;
    }
    void this.run(session, conversationId, stored.turnId, controller.signal)
      .then(settle)
      .finally(() => this.active.delete(session.id));
    return { ...stored, done };
  }

  /** 429 QUOTA_EXCEEDED once the user's model spend this calendar month (UTC) reached the limit. */
  private async checkSpend(userId: string): Promise<void> {
    const limit = this.deps.spendLimitMonthlyUsd;
    if (limit === undefined) return;
    const row = await this.deps.database.db
      .selectFrom('model_calls')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<string>('cost_usd'), sql<string>`0`).as('spent'))
      .where('user_id', '=', userId)
      .where('created_at', '>=', sql<Date>`date_trunc('month', now() at time zone 'UTC') at time zone 'UTC'`)
      .executeTakeFirstOrThrow();
    const spent = Number(row.spent);
    if (spent >= limit) {
      throw new AppError('QUOTA_EXCEEDED', `You have spent $${spent.toFixed(4)} on language models this month, which reaches your limit of $${limit}. It resets on the first of the month (UTC).`, {
        spentUsd: spent,
        limitUsd: limit,
      });
    }
  }

  /** Whether a turn of the session is running on this instance. */
  isBusy(sessionId: string): boolean {
    return this.active.has(sessionId);
  }

  /** Stops the turn in progress, if any; it ends `cancelled` and the session stays usable. */
  async cancel(sessionId: string): Promise<boolean> {
    const active = this.active.get(sessionId);
    if (!active) return false;
    active.controller.abort();
    await active.done;
    return true;
  }

  /** Stops every turn in progress and waits for each to record how it ended. */
  async stop(): Promise<void> {
    const running = [...this.active.values()];
    for (const turn of running) turn.controller.abort();
    await Promise.all(running.map((turn) => turn.done));
  }

  /** A conversation's messages in order, after `afterSeq`, with tool calls and usage. */
  async messages(userId: string, conversationId: string, page: { limit: number; after?: number | undefined }): Promise<{ messages: MessageView[]; next: number | null }> {
    const { db } = this.deps.database;
    const owned = await db.selectFrom('conversations').select('id').where('id', '=', conversationId).where('user_id', '=', userId).executeTakeFirst();
    if (!owned) throw new AppError('CONVERSATION_NOT_FOUND');
    const rows = await db
      .selectFrom('messages')
      .selectAll()
      .where('conversation_id', '=', conversationId)
      .where('seq', '>', String(page.after ?? 0) as never)
      .orderBy('seq')
      .limit(page.limit + 1)
      .execute();
    const shown = rows.slice(0, page.limit);
    return { messages: shown.map(toMessageView), next: rows.length > page.limit ? Number(shown.at(-1)!.seq) : null };
  }

  /** Runs the turn to its end. Never rejects: whatever happens is recorded on the turn. */
  private async run(session: SessionRow, conversationId: string, turnId: string, signal: AbortSignal): Promise<TurnOutcome> {
    let last: MessageView | null = null;
    try {
      const tools = this.deps.toolsFor(session.user_id, session.tools);
      const toolSet: ToolSet = Object.fromEntries([...tools.values()].map((t) => [t.name, tool({ description: t.description, inputSchema: jsonSchema(t.inputSchema) })]));
      const model = this.deps.models.resolve(session.model);
      for (let step = 1; step <= this.deps.maxSteps; step++) {
        if (signal.aborted) return await this.finish(session, turnId, 'cancelled', last);
        const status = await this.deps.database.db.selectFrom('agent_sessions').select('status').where('id', '=', session.id).executeTakeFirst();
        if (status?.status !== 'running') return await this.finish(session, turnId, 'cancelled', last, { code: 'SESSION_NOT_RUNNING', message: `The session became ${status?.status ?? 'deleted'}.` });
        const history = await this.deps.database.db.selectFrom('messages').selectAll().where('conversation_id', '=', conversationId).orderBy('seq').execute();
        const stepResult = await this.modelStep(session, model, history, toolSet, { conversationId, step }, signal);
        const toolResults = [];
        for (const [index, call] of stepResult.calls.entries()) toolResults.push(await this.callTool(session, tools, call, `${session.id}:${turnId}:${step}:${index}`, signal));
        const completesSession = toolResults.some((r) => r.call.tool === completeSessionToolName && !r.isError);
        last = await this.recordStep(session, conversationId, turnId, step, stepResult, toolResults, completesSession);
        if (stepResult.calls.length === 0 || completesSession) return await this.finish(session, turnId, 'completed', last);
      }
      return await this.finish(session, turnId, 'step_limit', last, {
        code: 'STEP_LIMIT',
        message: `The turn stopped after ${this.deps.maxSteps} steps: the model kept calling tools.`,
      });
    } catch (thrown) {
      const interrupted = thrown instanceof InterruptedModelCall ? thrown : undefined;
      const error = interrupted ? interrupted.cause : thrown;
      if (signal.aborted) return this.finish(session, turnId, 'cancelled', last, undefined, interrupted);
      if (isAppError(error) && error.code === 'SESSION_NOT_RUNNING') return this.finish(session, turnId, 'cancelled', last, { code: error.code, message: error.message });
      const appError = isAppError(error) ? error : new AppError('INTERNAL', undefined, undefined, { cause: error });
      if (!isAppError(error)) this.deps.onError(error, `turn ${turnId} failed`);
      return this.finish(session, turnId, 'failed', last, { code: appError.code, message: appError.message }, interrupted);
    }
  }

  /**
   * One model call, streamed: text goes out as deltas, tool calls are collected. A call that fails
   * or is cancelled throws an InterruptedModelCall carrying what it had written.
   */
  private async modelStep(session: SessionRow, model: ReturnType<LanguageModels['resolve']>, history: MessageRow[], toolSet: ToolSet, at: { conversationId: string; step: number }, signal: AbortSignal) {
    const messageId = randomUUID();
    const deltas = new DeltaCoalescer((offset, text) =>
      this.announce(session, { type: 'message.delta', data: { sessionId: session.id, messageId, offset, text } }),
    );
    const started = performance.now();
    let text = '';
    const calls: RecordedToolCall[] = [];
    try {
      const result = streamText({ model, system: session.system_prompt, messages: toModelMessages(history), tools: toolSet, abortSignal: signal, maxRetries: 0, onError: () => undefined });
      for await (const part of result.fullStream) {
        if (part.type === 'text-delta') {
          text += part.text;
          deltas.push(part.text);
        } else if (part.type === 'tool-call') calls.push({ callId: part.toolCallId, tool: part.toolName, input: part.input });
        else if (part.type === 'error') throw part.error;
      }
      const usage = await result.usage;
      return {
        messageId,
        text,
        calls,
        usage: { inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 },
        cost: costOf(session.model, usage),
        latencyMs: Math.round(performance.now() - started),
      };
    } catch (error) {
      throw new InterruptedModelCall(error, { ...at, messageId, text, latencyMs: Math.round(performance.now() - started) });
    } finally {
      await deltas.drain();
    }
  }

  /** Runs one tool call; refusals and failures become tool errors the model reads, and the turn goes on. */
  private async callTool(session: SessionRow, tools: Map<string, ToolDefinition>, call: RecordedToolCall, idempotencyKey: string, signal: AbortSignal) {
    await this.announce(session, { type: 'tool.started', data: { ...toolLabel(session, call), arguments: call.input } });
    const started = performance.now();
    const definition = tools.get(call.tool);
    let outcome: { isError: boolean; value: unknown };
    if (!definition) outcome = { isError: true, value: { code: 'TOOL_NOT_ALLOWED', message: `There is no tool "${call.tool}" in this session.` } };
    else {
      try {
        definition.parse(call.input);
        outcome = { isError: false, value: await definition.execute(call.input, { signal, idempotencyKey }) };
      } catch (error) {
        const invalid = ['ZodError', 'ToolInputError'].includes((error as { name?: string }).name ?? '');
        outcome = {
          isError: true,
          value: invalid ? { code: 'TOOL_INPUT_INVALID', message: `The arguments do not match the tool's schema: ${(error as Error).message}` } : { code: 'TOOL_FAILED', message: (error as Error).message },
        };
      }
    }
    return { call, ...outcome, durationMs: Math.round(performance.now() - started) };
  }

  /** Publishes an event that reports progress rather than a change: in a transaction of its own. */
  private async announce(session: SessionRow, event: AgentryEvent): Promise<void> {
    await this.deps.database.transaction((tx) => this.deps.bus.publish(tx, { userId: session.user_id, topic: sessionTopic(session.id), event }));
  }

  /** The step's one transaction: its messages, the session's counters, a checkpoint, and the events. */
  private async recordStep(
    session: SessionRow,
    conversationId: string,
    turnId: string,
    step: number,
    result: Awaited<ReturnType<AgentRunner['modelStep']>>,
    toolResults: Array<{ call: RecordedToolCall; isError: boolean; value: unknown; durationMs: number }>,
    completesSession: boolean,
  ): Promise<MessageView> {
    return this.deps.database.transaction(async (tx) => {
      const common = { conversation_id: conversationId, session_id: session.id, user_id: session.user_id, turn_id: turnId, step };
      const assistant = await tx
        .insertInto('messages')
        .values({
          ...common,
          id: result.messageId,
          role: 'assistant',
          content: result.text,
          // Serialised here: the driver would send a JS array as a PostgreSQL array, not JSON.
          tool_calls: JSON.stringify(result.calls),
          model: session.model,
          input_tokens: result.usage.inputTokens,
          output_tokens: result.usage.outputTokens,
          cost_usd: result.cost,
          latency_ms: result.latencyMs,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      for (const { call, isError, value } of toolResults) {
        await tx
          .insertInto('messages')
          .values({ ...common, role: 'tool', tool_call_id: call.callId, tool_name: call.tool, tool_result: JSON.stringify(value ?? null), is_error: isError })
          .execute();
      }
      await this.recordModelCall(tx, session, turnId, step, { ...result, error: null });
      const events: AgentryEvent[] = toolResults.map(({ call, isError, value, durationMs }) =>
        isError
          ? { type: 'tool.failed', data: { ...toolLabel(session, call), durationMs, error: value as { code: string; message: string } } }
          : { type: 'tool.completed', data: { ...toolLabel(session, call), durationMs, result: value } },
      );
      events.push({ type: 'message.completed', data: { sessionId: session.id, messageId: assistant.id, role: 'assistant', text: result.text } });
      // The session row (refused unless it is still running), then the checkpoint and the events.
      await this.deps.sessions.recordStep(
        tx,
        session.id,
        step,
        {
          messages: 1 + toolResults.length,
          toolCalls: toolResults.length,
          errors: toolResults.filter((r) => r.isError).length,
          inputTokens: result.usage.inputTokens,
          outputTokens: result.usage.outputTokens,
          costUsd: result.cost ?? 0,
        },
        { complete: completesSession, events },
      );
      return toMessageView(assistant);
    });
  }

  /**
   * Records how the turn ended, with the model call it interrupted (if any). A cancelled call's
   * text, already streamed as deltas, is kept as the step's assistant message, so the transcript
   * says what clients saw. A failure counts as an error on the session, whatever its status now.
   * If even this cannot be written (the session was deleted meanwhile), it is logged.
   */
  private async finish(
    session: SessionRow,
    turnId: string,
    status: Exclude<TurnStatus, 'running'>,
    last: MessageView | null,
    error?: { code: string; message: string },
    interrupted?: InterruptedModelCall,
  ): Promise<TurnOutcome> {
    let message = last;
    try {
      await this.deps.database.transaction(async (tx) => {
        const events: AgentryEvent[] = [];
        if (interrupted) {
          const { step, messageId, text, latencyMs } = interrupted;
          const callError = error ?? { code: 'CANCELLED', message: 'The turn was cancelled during the model call.' };
          await this.recordModelCall(tx, session, turnId, step, { usage: { inputTokens: 0, outputTokens: 0 }, cost: null, latencyMs, error: callError });
          if (status === 'cancelled' && text !== '') {
            const row = await tx
              .insertInto('messages')
              .values({ id: messageId, conversation_id: interrupted.conversationId, session_id: session.id, user_id: session.user_id, turn_id: turnId, step, role: 'assistant', content: text, model: session.model, latency_ms: latencyMs })
              .returningAll()
              .executeTakeFirstOrThrow();
            message = toMessageView(row);
            events.push({ type: 'message.completed', data: { sessionId: session.id, messageId, role: 'assistant', text } });
          }
        }
        await this.deps.sessions.recordTurnEnd(tx, session.id, { messages: events.length, error: status === 'failed' ? error : undefined });
        const ended = await tx
          .updateTable('turns')
          .set({ status, error: (error ?? null) as never, finished_at: new Date(), steps: last?.step ?? 0 })
          .where('id', '=', turnId)
          .returning('id')
          .executeTakeFirst();
        // Clients learn how every turn ended; for a cancelled one this says its deltas are final.
        if (ended) events.push({ type: 'turn.ended', data: { sessionId: session.id, turnId, status, steps: last?.step ?? 0, ...(error ? { error } : {}) } });
        await this.deps.bus.publish(tx, ...events.map((event) => ({ userId: session.user_id, topic: sessionTopic(session.id), event })));
      });
    } catch (failure) {
      this.deps.onError(failure, `could not record the end of turn ${turnId}`);
    }
    return { turnId, status, message, error };
  }

  /** Records one model call: what it cost whether or not it succeeded. */
  private async recordModelCall(
    tx: Executor,
    session: SessionRow,
    turnId: string,
    step: number,
    call: { usage: { inputTokens: number; outputTokens: number }; cost: number | null; latencyMs: number; error: { code: string; message: string } | null },
  ): Promise<void> {
    await tx
      .insertInto('model_calls')
      .values({
        user_id: session.user_id,
        session_id: session.id,
        turn_id: turnId,
        step,
        model: session.model,
        input_tokens: call.usage.inputTokens,
        output_tokens: call.usage.outputTokens,
        cost_usd: call.cost,
        latency_ms: call.latencyMs,
        error: call.error as never,
      })
      .execute();
  }
}

/** A model call that failed or was cancelled, with the text it had streamed by then. */
class InterruptedModelCall extends Error {
  override readonly name = 'InterruptedModelCall';
  readonly step: number;
  readonly messageId: string;
  readonly text: string;
  readonly latencyMs: number;
  readonly conversationId: string;

  constructor(cause: unknown, details: { step: number; messageId: string; text: string; latencyMs: number; conversationId: string }) {
    super('The model call did not finish.', { cause });
    ({ step: this.step, messageId: this.messageId, text: this.text, latencyMs: this.latencyMs, conversationId: this.conversationId } = details);
  }
}

/** How a tool call is named in events, whose ids are capped: a model may invent very long names. */
function toolLabel(session: SessionRow, call: RecordedToolCall) {
  return { sessionId: session.id, callId: call.callId.slice(0, 200), tool: call.tool.slice(0, 200) };
}

const noCounts = { messages: 0, toolCalls: 0, errors: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };

export function toMessageView(row: MessageRow): MessageView {
  return {
    id: row.id,
    turnId: row.turn_id,
    step: row.step,
    role: row.role,
    content: row.content,
    toolCalls: row.tool_calls as unknown as RecordedToolCall[],
    toolCallId: row.tool_call_id,
    toolName: row.tool_name,
    toolResult: row.tool_result,
    isError: row.is_error,
    model: row.model,
    usage: { inputTokens: row.input_tokens, outputTokens: row.output_tokens },
    costUsd: row.cost_usd === null ? null : Number(row.cost_usd),
    latencyMs: row.latency_ms,
    createdAt: row.created_at.toISOString(),
  };
}
