import { sql } from 'kysely';
import { toJsonText, type SessionStatus, type Executor, type PostgresDatabase } from '../database/index.ts';
import type { ReportedError } from '../errors.ts';
import type { AgentryEvent, ChangeExpressions, EventBus } from '../events/index.ts';
import { messageTokenCount } from '../providers/index.ts';
import { redactArguments } from '../redaction/index.ts';
import { insertFrom, insertRowsFrom } from './gated-insert.ts';
import { sessionTopic } from './session-events.ts';
import type { SessionProgress, StepCounts } from './session-progress.ts';
import { ledgerEntryFromJson, type ToolLedger, type LedgerEntry, type LedgerEntryJson, type ToolOutcome } from './tool-ledger.ts';
import { messageFromJson, messageJson, type MessageJson } from './message-json.ts';
import { LeaseLost, type TurnLeases } from './turn-leases.ts';
import type { HeldTurn } from './turn-store.ts';
import { toMessageView, type MessageRow, type MessageView, type RecordedToolCall } from './turn-transcript.ts';

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
  /** The streamed text's end, not yet sent as a delta: the answer's record sends it, before `message.completed`. */
  lastDelta?: { offset: number; text: string };
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

/**
 * A tool call of a step with what it returned. `folded`: the call ran without a begin or a
 * completion of its own (see StepRecords.recordAnswer), so its ledger entry is completed with the
 * step's results.
 */
export type CallResult = { entry: LedgerEntry; folded?: boolean | undefined } & ToolOutcome;

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
 * result; then the step's tool results, counters, checkpoint and events. Each is one statement
 * that renews the turn's lease (so an execution that lost it records nothing) and commits with
 * the session's counters and events.
 */
export class StepRecords {
  constructor(private readonly deps: StepRecordsDeps) {}

  /**
   * The model's answer in one statement that commits on its own (see
   * SessionProgress.recordStepAlone): the session's counters, the lease renewed, the assistant
   * message with its model-call record and its tool calls in the ledger (`pending`), the step's
   * events (and, when it calls no tools, its checkpoint); nothing at all when the lease is lost or
   * the session no longer runs. `idempotent` says, per tool name, whether a call may run again
   * after a crash. The calls `folded` names (by index) are of idempotent tools that run at once:
   * they are recorded `started` here, with their `tool.started` events, and then run without
   * beginCall or completeCall, their entries completed with the step's results
   * (recordToolResults). Nothing is lost by it: a crash before the results leaves them `started`,
   * and a `started` call of an idempotent tool runs again.
   */
  async recordAnswer(
    turn: HeldTurn,
    options: { step: number; answer: ModelAnswer; idempotent: (tool: string) => boolean; folded?: ReadonlySet<number> | undefined },
  ): Promise<{ message: MessageView; row: MessageRow; calls: LedgerEntry[] }> {
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
      started: options.folded?.has(callIndex) === true,
    }));
    const { db } = this.deps.database;
    const from = 'lease';
    const writes: ChangeExpressions = [
      ['model_call', insertFrom(db, 'model_calls', this.modelCallRow(turn, { ...answer, step, error: null }), { from })],
      ...(entries.length === 0 ? [] : insertRowsFrom(db, 'tool_calls', this.deps.ledger.rows(entries), { name: 'ledger', from })),
      [
        'message',
        insertFrom(
          db,
          'messages',
          {
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
          },
          { from },
        ).returningAll(),
      ],
    ];
    const recorded = await this.deps.progress.recordStepAlone<{ message: MessageJson; calls: LedgerEntryJson[] | null }>({
      sessionId: session.id,
      userId: session.user_id,
      counts: { ...noStepCounts, messages: 1, inputTokens, outputTokens, costUsd: answer.cost ?? 0, costEstimated: answer.costEstimated },
      fence: this.deps.leases.fence(turnId, turn.token),
      step,
      writes,
      checkpoint: answer.calls.length === 0,
      messageSeq: sql<string>`(select seq from message)`,
      events: [
        ...(answer.lastDelta
          ? [{ type: 'message.delta' as const, data: { sessionId: session.id, messageId: answer.messageId, ...answer.lastDelta } }]
          : []),
        { type: 'message.completed', data: { sessionId: session.id, messageId: answer.messageId, role: 'assistant', text: answer.text } },
        ...answer.calls
          .filter((_, callIndex) => options.folded?.has(callIndex) === true)
          .map((call) => startedEvent(turn, { call_id: call.callId, tool: call.tool, input: call.input ?? null })),
      ],
      // The calls as recorded come back with the message, so the step runs them without reading them again.
      returning: {
        message: sql<MessageJson>`(select ${messageJson('m')} from message m)`,
        calls:
          entries.length === 0
            ? sql<null>`null::json`
            : sql<LedgerEntryJson[]>`(select json_agg(ledger order by ledger.call_index) from ledger)`,
      },
    });
    const row = messageFromJson(recorded.message);
    return { message: toMessageView(row), row, calls: (recorded.calls ?? []).map(ledgerEntryFromJson) };
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
    const event = startedEvent(turn, entry);
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
   * The step's second write, in one statement that commits on its own (see
   * SessionProgress.recordStepAlone): its tool results as messages, the session's counters, the
   * checkpoint and the tool events. Recorded whatever the session's status now: the calls ran.
   * With `complete`, the agent completed the session (in a transaction, with its status change).
   * Returns what the renewal in it read under the session's lock (a cancel asked for, the
   * session's status), as the lease check between steps would: the loop takes it for that check
   * instead of asking again at once. The ledger entries of folded calls are completed with them.
   */
  async recordToolResults(
    turn: HeldTurn,
    options: { step: number; results: CallResult[]; complete: boolean },
  ): Promise<TurnState & { messages?: MessageRow[] | undefined }> {
    const { session, turnId, conversationId } = turn;
    const { step, results } = options;
    const counts = {
      ...noStepCounts,
      messages: results.length,
      toolCalls: results.length,
      errors: results.filter((r) => r.isError).length,
    };
    const messages = results.map(({ entry, isError, value }) => ({
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
    }));
    const events: AgentryEvent[] = results.map(({ entry, isError, value, durationMs }) =>
      isError
        ? { type: 'tool.failed', data: { ...toolLabel(turn, entry), durationMs, error: value as ReportedError } }
        : { type: 'tool.completed', data: { ...toolLabel(turn, entry), durationMs, result: value } },
    );
    const { db } = this.deps.database;
    const folded = results.filter((r) => r.folded === true);
    const fence = this.deps.leases.fence(turnId, turn.token);
    if (results.length > 0 && !options.complete) {
      const state = await this.deps.progress.recordStepAlone<{ cancel_requested: boolean; status: SessionStatus; messages: MessageJson[] }>(
        {
          sessionId: session.id,
          userId: session.user_id,
          counts,
          requireRunning: false,
          fence,
          step,
          writes: [
            ...folded.map((r, i) => [`completed_${i}`, this.deps.ledger.completion(db, r.entry, r, { from: 'lease' })] as const),
            ...insertRowsFrom(db, 'messages', messages, { name: 'results', from: 'lease' }),
          ],
          checkpoint: true,
          messageSeq: sql<string>`(select max(seq) from results)`,
          events,
          returning: {
            cancel_requested: sql<boolean>`(select cancel_requested from lease)`,
            status: sql<SessionStatus>`(select status from counted)`,
            messages: sql<MessageJson[]>`(select json_agg(${messageJson('m')} order by m.seq) from results m)`,
          },
        },
      );
      return { cancelRequested: state.cancel_requested, sessionStatus: state.status, messages: state.messages.map(messageFromJson) };
    }
    // The session's last step (its status change goes with it), or calls recorded by an older version.
    return this.deps.database.transaction(async (tx): Promise<TurnState> => {
      // Calls recorded by an older version, without a ledger: only the lease is renewed.
      if (results.length === 0) return this.deps.leases.renew(tx, turnId, turn.token);
      const counted = await this.deps.progress.countStep(tx, {
        sessionId: session.id,
        counts,
        requireRunning: false,
        complete: options.complete,
        fence,
      });
      for (const r of folded) await this.deps.ledger.completion(tx, r.entry, r).execute();
      await tx.insertInto('messages').values(messages).execute();
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
function toolLabel(turn: Pick<HeldTurn, 'session'>, entry: Pick<LedgerEntry, 'call_id' | 'tool'>) {
  return { sessionId: turn.session.id, callId: entry.call_id.slice(0, 200), tool: entry.tool.slice(0, 200) };
}

/** A call's `tool.started` event: its arguments redacted. */
function startedEvent(turn: Pick<HeldTurn, 'session'>, entry: Pick<LedgerEntry, 'call_id' | 'tool'> & { input: unknown }): AgentryEvent {
  return { type: 'tool.started', data: { ...toolLabel(turn, entry), arguments: redactArguments(entry.input) } };
}
