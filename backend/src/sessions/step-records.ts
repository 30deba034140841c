import { sql, type QueryCreator } from 'kysely';
import { toJsonText, type SessionStatus, type DatabaseSchema, type Executor, type PostgresDatabase } from '../database/index.ts';
import type { ReportedError } from '../errors.ts';
import type { AgentryEvent, EventBus } from '../events/index.ts';
import { messageTokenCount } from '../providers/index.ts';
import { redactArguments } from '../redaction/index.ts';
import { sessionTopic } from './session-events.ts';
import type { SessionProgress, StepCounts } from './session-progress.ts';
import { ledgerEntryFromJson, type ToolLedger, type LedgerEntry, type LedgerEntryJson, type ToolOutcome } from './tool-ledger.ts';
import { LeaseLost, type TurnLeases } from './turn-leases.ts';
import type { HeldTurn } from './turn-store.ts';
import { toMessageView, type MessageView, type RecordedToolCall } from './turn-transcript.ts';

/** What a model call used. */
export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
}

/** A model's answer, as a step records it. */
export interface ModelAnswer {
  /** Chosen before the call: its deltas already went out under it. */
  messageId: string;
  text: string;
  calls: RecordedToolCall[];
  usage: ModelUsage;
  cost: number | null;
  /** The cost was counted at the default price: the model has no price. */
  costEstimated: boolean;
  latencyMs: number;
}

/**
 * A model call that did not end in a recorded step (it failed, was cancelled, or its answer could
 * not be recorded), with the text it had streamed and, if it answered, what it used.
 */
export interface UnrecordedModelCall {
  step: number;
  messageId: string;
  text: string;
  latencyMs: number;
  usage: ModelUsage;
  cost: number | null;
  costEstimated?: boolean | undefined;
}

/** One model call as its record says: what it cost whether or not it succeeded. */
export interface ModelCallRecord {
  step: number;
  usage: ModelUsage;
  cost: number | null;
  costEstimated?: boolean | undefined;
  latencyMs: number;
  error: ReportedError | null;
}

/** What a turn must react to between steps: a cancel asked for on any instance, and its session's status. */
export interface TurnState {
  cancelRequested: boolean;
  sessionStatus: SessionStatus;
}

/** A tool call of a step with what it returned. */
export type CallResult = { entry: LedgerEntry } & ToolOutcome;

export interface StepRecordsDeps {
  database: PostgresDatabase;
  bus: EventBus;
  progress: SessionProgress;
  leases: TurnLeases;
  ledger: ToolLedger;
}

/** A step that adds nothing to the session's counters but what it names. */
export const noStepCounts: StepCounts = { messages: 0, toolCalls: 0, errors: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };

/**
 * The writes of a step, in the order DESIGN's durable-execution rules give them: the model's
 * answer with its model-call record and its calls in the ledger; each call begun, then its
 * result; then the step's tool results, counters, checkpoint and events. Each renews the turn's
 * lease in its own transaction (so an execution that lost it records nothing) and commits with
 * the session's counters and events.
 */
export class StepRecords {
  constructor(private readonly deps: StepRecordsDeps) {}

  /**
   * The model's answer in one transaction: the session's counters (with the lease renewed in the
   * same statement), then the assistant message with its model-call record and its tool calls in
   * the ledger (`pending`) in one statement, then the step's events (and, when it calls no tools,
   * its checkpoint). `idempotent` says, per tool name, whether a call may run again after a crash.
   */
  async recordAnswer(
    turn: HeldTurn,
    options: { step: number; answer: ModelAnswer; idempotent: (tool: string) => boolean },
  ): Promise<{ message: MessageView; calls: LedgerEntry[] }> {
    const { session, turnId, conversationId } = turn;
    const { step, answer } = options;
    const { inputTokens, outputTokens } = answer.usage;
    const entries = answer.calls.map((call, callIndex) => ({
      sessionId: session.id,
      turnId,
      userId: session.user_id,
      step,
      callIndex,
      callId: call.callId,
      tool: call.tool,
      input: call.input,
      idempotent: options.idempotent(call.tool),
    }));
    return this.deps.database.transaction(async (tx) => {
      const counted = await this.deps.progress.countStep(tx, {
        sessionId: session.id,
        counts: { ...noStepCounts, messages: 1, inputTokens, outputTokens, costUsd: answer.cost ?? 0, costEstimated: answer.costEstimated },
        fence: this.deps.leases.fence(turnId, turn.token),
      });
      const withCall = tx.with('model_call', (db) =>
        db.insertInto('model_calls').values(this.modelCallRow(turn, { ...answer, step, error: null })),
      );
      // The same statement's parts: the CTEs add nothing to what the message insert may refer to.
      const writes =
        entries.length === 0
          ? withCall
          : (withCall.with('ledger', (db) =>
              this.deps.ledger.insert(db as unknown as QueryCreator<DatabaseSchema>, entries).returningAll(),
            ) as unknown as typeof withCall);
      // The calls as recorded come back with the message, so the step runs them without reading them again.
      const ledgerRows =
        entries.length === 0
          ? sql<LedgerEntryJson[] | null>`null::json`
          : sql<LedgerEntryJson[] | null>`(select json_agg(ledger order by ledger.call_index) from ledger)`;
      const row = await writes
        .insertInto('messages')
        .values({
          conversation_id: conversationId,
          session_id: session.id,
          user_id: session.user_id,
          turn_id: turnId,
          step,
          id: answer.messageId,
          role: 'assistant',
          content: answer.text,
          // Serialised here: the driver would send a JS array as a PostgreSQL array, not JSON.
          tool_calls: toJsonText(answer.calls),
          model: session.model,
          input_tokens: inputTokens,
          output_tokens: outputTokens,
          cost_usd: answer.cost,
          cost_estimated: answer.costEstimated,
          latency_ms: answer.latencyMs,
          token_count: messageTokenCount({ text: answer.text, calls: answer.calls }),
        })
        .returningAll()
        .returning(ledgerRows.as('recorded_calls'))
        .executeTakeFirstOrThrow();
      const { recorded_calls: recorded, ...assistant } = row;
      await this.deps.progress.announceStep(tx, {
        counted,
        step,
        checkpoint: answer.calls.length === 0,
        events: [
          { type: 'message.completed', data: { sessionId: session.id, messageId: assistant.id, role: 'assistant', text: answer.text } },
        ],
      });
      return { message: toMessageView(assistant), calls: (recorded ?? []).map(ledgerEntryFromJson) };
    });
  }

  /** The step's recorded tool calls, in the order the model asked for them (recordAnswer returns them too). */
  async callsOf(turn: Pick<HeldTurn, 'turnId'>, step: number): Promise<LedgerEntry[]> {
    return this.deps.ledger.forStep(turn.turnId, step);
  }

  /**
   * Marks the call `started`, with its `tool.started` event, in one statement that renews the
   * lease: from here its effect may have happened.
   */
  async beginCall(turn: HeldTurn, entry: LedgerEntry): Promise<void> {
    const event: AgentryEvent = { type: 'tool.started', data: { ...toolLabel(turn, entry), arguments: redactArguments(entry.input) } };
    const { session } = turn;
    const begun = await this.deps.bus.publishAlone([{ userId: session.user_id, topic: sessionTopic(session.id), event }], {
      after: this.deps.ledger.beginning(entry, turn.token, this.deps.leases),
    });
    if (!begun)
      throw new LeaseLost(
        `The call ${entry.idempotency_key} was taken up by another execution, or its turn is no longer held by ${turn.token}.`,
      );
  }

  /** Records the call's result in the ledger, before the step's results are (see ToolLedger.complete). */
  async completeCall(turn: HeldTurn, entry: LedgerEntry, outcome: ToolOutcome): Promise<void> {
    await this.deps.ledger.complete(entry, outcome, turn.token, this.deps.leases);
  }

  /**
   * The step's second transaction: its tool results as messages, the session's counters, the
   * checkpoint and the tool events. Recorded whatever the session's status now: the calls ran.
   * With `complete`, the agent completed the session. Returns what the renewal in it read under
   * the session's lock (a cancel asked for, the session's status), as the lease check between
   * steps would: the loop takes it for that check instead of asking again at once.
   */
  async recordToolResults(turn: HeldTurn, options: { step: number; results: CallResult[]; complete: boolean }): Promise<TurnState> {
    const { session, turnId, conversationId } = turn;
    const { step, results } = options;
    return this.deps.database.transaction(async (tx): Promise<TurnState> => {
      // Calls recorded by an older version, without a ledger: only the lease is renewed.
      if (results.length === 0) return this.deps.leases.renew(tx, turnId, turn.token);
      const errors = results.filter((r) => r.isError).length;
      const counted = await this.deps.progress.countStep(tx, {
        sessionId: session.id,
        counts: { ...noStepCounts, messages: results.length, toolCalls: results.length, errors },
        requireRunning: false,
        complete: options.complete,
        fence: this.deps.leases.fence(turnId, turn.token),
      });
      await tx
        .insertInto('messages')
        .values(
          results.map(({ entry, isError, value }) => ({
            conversation_id: conversationId,
            session_id: session.id,
            user_id: session.user_id,
            turn_id: turnId,
            step,
            role: 'tool' as const,
            tool_call_id: entry.call_id,
            tool_name: entry.tool,
            tool_result: toJsonText(value ?? null),
            is_error: isError,
            token_count: messageTokenCount({ toolName: entry.tool, result: value ?? null }),
          })),
        )
        .execute();
      const events: AgentryEvent[] = results.map(({ entry, isError, value, durationMs }) =>
        isError
          ? { type: 'tool.failed', data: { ...toolLabel(turn, entry), durationMs, error: value as ReportedError } }
          : { type: 'tool.completed', data: { ...toolLabel(turn, entry), durationMs, result: value } },
      );
      await this.deps.progress.announceStep(tx, { counted, step, events });
      return { cancelRequested: counted.cancelRequested ?? false, sessionStatus: counted.session.status };
    });
  }

  /**
   * Records one model call: what it cost whether or not it succeeded. In `executor` when it goes
   * with other writes (a step, a turn's end), else on its own (a shutdown leaves the turn to resume).
   */
  async recordModelCall(turn: HeldTurn, call: ModelCallRecord, executor: Executor = this.deps.database.db): Promise<void> {
    await executor.insertInto('model_calls').values(this.modelCallRow(turn, call)).execute();
  }

  private modelCallRow(turn: HeldTurn, call: ModelCallRecord) {
    const { session } = turn;
    return {
      user_id: session.user_id,
      session_id: session.id,
      turn_id: turn.turnId,
      step: call.step,
      model: session.model,
      input_tokens: call.usage.inputTokens,
      output_tokens: call.usage.outputTokens,
      cost_usd: call.cost,
      cost_estimated: call.costEstimated ?? false,
      latency_ms: call.latencyMs,
      error: call.error,
    };
  }

  /** What a cancelled model call had streamed, kept as its step's assistant message. */
  async recordPartialAnswer(turn: HeldTurn, call: UnrecordedModelCall, tx: Executor): Promise<MessageView> {
    const { session } = turn;
    const row = await tx
      .insertInto('messages')
      .values({
        id: call.messageId,
        conversation_id: turn.conversationId,
        session_id: session.id,
        user_id: session.user_id,
        turn_id: turn.turnId,
        step: call.step,
        role: 'assistant',
        content: call.text,
        model: session.model,
        latency_ms: call.latencyMs,
        token_count: messageTokenCount({ text: call.text }),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toMessageView(row);
  }
}

/** How a tool call is named in events, whose ids are capped: a model may invent very long names. */
function toolLabel(turn: Pick<HeldTurn, 'session'>, entry: LedgerEntry) {
  return { sessionId: turn.session.id, callId: entry.call_id.slice(0, 200), tool: entry.tool.slice(0, 200) };
}
