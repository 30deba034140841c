import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { jsonSchema, streamText, tool, type ToolSet } from 'ai';
import { sql, type Selectable } from 'kysely';
import {
  toDatabaseError,
  type AgentSessionsTable,
  type Executor,
  type MessagesTable,
  type PostgresDatabase,
  type TurnStatus,
} from '../database/index.ts';
import { AppError, isAppError, type ReportedError } from '../errors.ts';
import type { AgentryEvent, EventBus } from '../events/index.ts';
import type { FaultInjector } from '../fault-injection.ts';
import { redactArguments } from '../redaction/index.ts';
import { costOf, type LanguageModels } from '../providers/index.ts';
import { endTurn, sessionTopic, type SessionService } from '../sessions/index.ts';
import { completeSessionToolName, type PromptUser } from '../templates/index.ts';
import { reportToolFailure, type ToolDefinition, type ToolsFor } from '../tools/index.ts';
import { DeltaCoalescer } from './delta-publisher.ts';
import { toModelMessages, type RecordedToolCall } from './message-history.ts';
import { ToolLedger, type LedgerEntry, type ToolOutcome } from './tool-ledger.ts';
import { LeaseLost, TurnLeases, type TurnRow } from './turn-leases.ts';

type SessionRow = Selectable<AgentSessionsTable>;
type MessageRow = Selectable<MessagesTable>;
type EndStatus = Exclude<TurnStatus, 'running' | 'suspended'>;

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
  /** `running` when this instance let the turn go (shutdown, lost lease or database) for another to resume. */
  status: TurnStatus;
  /** The turn's last assistant message, if it wrote one. */
  message: MessageView | null;
  error?: ReportedError | undefined;
}

export interface AgentRunnerDeps {
  database: PostgresDatabase;
  bus: EventBus;
  sessions: SessionService;
  models: LanguageModels;
  /** The tools a session may call, bound to its user, by name. */
  /**
   * The tools a session may use now, by its tool names and patterns. Asked at every step, so a
   * running session sees integrations connected, disconnected or changed since the last one.
   */
  toolsFor: ToolsFor;
  /** Model calls per turn before it ends with `step_limit`. */
  maxSteps: number;
  /** Spend per user per calendar month (UTC) past which new messages are refused; none when undefined. */
  spendLimitMonthlyUsd?: number | undefined;
  /** Names this instance in turn leases. */
  instanceId: string;
  /**
   * `exclusive`: no other instance can reach this database (the embedded one, whose directory
   * this process locked), so at start every running turn is a crashed one and resumes at once.
   */
  leases: { ttlMs: number; recoveryIntervalMs: number; maxRecoveries: number; exclusive?: boolean };
  /** Crash tests' named kill points (off unless configured). */
  reach: FaultInjector;
  /** Where a turn's unexpected failure is logged (once; the turn records its code). */
  onError: (error: unknown, context: string) => void;
}

/** Why an execution was stopped from outside its loop. */
const stopReasons = { cancel: 'cancelled by the user', leaseLost: 'the lease went to another execution' } as const;

interface Execution {
  turnId: string;
  sessionId: string;
  /** The lease token this execution writes under. */
  token: string;
  /** Aborts everything, tool calls included: a cancel, or a lost lease. */
  turn: AbortController;
  /** Aborts the model call only: shutdown lets a running tool finish and be recorded. */
  shutdown: AbortController;
  /** Taken over (after a crash, a handover or a decision) rather than just started: it may have recorded steps. */
  resumed: boolean;
  done: Promise<TurnOutcome>;
}

/**
 * Runs turns durably. A turn is a user message, then steps of one model call plus the tool calls
 * it asks for, until the model answers without tools, the agent completes the session, or the
 * step limit. What a step records:
 *
 * 1. The model's answer, its model-call record and its tool calls in the ledger (`pending`), in
 *    one transaction, with the session's counters (and the checkpoint, when it asks for no tools).
 * 2. Each call: `started` with its `tool.started` event, the tool runs with its idempotency key,
 *    then its result in the ledger.
 * 3. The tool results as messages, the session's counters, the checkpoint and the tool events, in
 *    one transaction.
 *
 * While a turn executes, one execution leases it (see turn-leases.ts); every write above is fenced
 * by the lease. If an instance dies, its leases expire and any instance resumes the turn from what
 * was recorded: recorded answers are not asked for again, completed calls are not run again, a
 * call that may have begun runs again only if its tool is idempotent, and otherwise the session
 * pauses with TOOL_OUTCOME_UNKNOWN until the user resolves it.
 *
 * One unfinished turn per session, across instances (a unique index): a message sent while one
 * runs is refused with 409 SESSION_BUSY, and the client sends it again when it ends.
 */
export class AgentRunner {
  private readonly executions = new Map<string, Execution>();
  private readonly leases: TurnLeases;
  private readonly ledger: ToolLedger;
  private recoveryTimer: NodeJS.Timeout | undefined;
  private recovering: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: AgentRunnerDeps) {
    this.leases = new TurnLeases(deps.database, deps.instanceId, deps.leases.ttlMs);
    this.ledger = new ToolLedger(deps.database);
  }

  /** Resumes turns left by instances that died (at once, then periodically). */
  async start(): Promise<void> {
    await this.recover({ evenUnexpired: this.deps.leases.exclusive === true });
    this.recoveryTimer = setInterval(() => void this.recover(), this.deps.leases.recoveryIntervalMs);
    this.recoveryTimer.unref();
  }

  /**
   * Stores the user's message and starts the turn; `done` settles when the turn ends. The first
   * message of a conversation that has no session yet starts one with the user's default agent.
   */
  async send(
    user: PromptUser,
    conversationId: string,
    content: string,
  ): Promise<{ turnId: string; messageId: string; done: Promise<TurnOutcome> }> {
    const { db } = this.deps.database;
    const conversation = await db
      .selectFrom('conversations')
      .select(['id', 'session_id'])
      .where('id', '=', conversationId)
      .where('user_id', '=', user.id)
      .executeTakeFirst();
    if (!conversation) throw new AppError('CONVERSATION_NOT_FOUND');
    await this.checkSpend(user.id);
    const sessionId = conversation.session_id ?? (await this.startSession(user, conversationId));
    const session = await db.selectFrom('agent_sessions').selectAll().where('id', '=', sessionId).executeTakeFirstOrThrow();
    if (session.status !== 'running')
      throw new AppError(
        'SESSION_NOT_RUNNING',
        `The session is ${session.status}${session.status === 'paused' ? ': resume it first' : ''}.`,
      );
    const token = this.leases.newToken();
    let stored: { turn: TurnRow; messageId: string };
    try {
      stored = await this.deps.database.transaction(async (tx) => {
        // The turn first: the unique index on unfinished turns is what refuses a second one.
        const turn = await tx
          .insertInto('turns')
          .values({
            session_id: session.id,
            conversation_id: conversationId,
            user_id: user.id,
            status: 'running',
            lease_owner: token,
            lease_expires_at: this.leases.expiry(),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        const message = await tx
          .insertInto('messages')
          .values({ conversation_id: conversationId, session_id: session.id, user_id: user.id, turn_id: turn.id, role: 'user', content })
          .returning('id')
          .executeTakeFirstOrThrow();
        await this.deps.sessions.recordStep(
          tx,
          session.id,
          0,
          { ...noCounts, messages: 1 },
          {
            checkpoint: false,
            events: [{ type: 'message.completed', data: { sessionId: session.id, messageId: message.id, role: 'user', text: content } }],
          },
        );
        return { turn, messageId: message.id };
      });
    } catch (error) {
      if ((error as { constraint?: string }).constraint === 'turns_one_unfinished_idx') throw new AppError('SESSION_BUSY');
      throw error;
    }
    const done = this.execute(session, stored.turn, token, false);
    return { turnId: stored.turn.id, messageId: stored.messageId, done };
  }

  /** Starts a default-agent session for a conversation of its own; of two first messages at once, both use the one that won. */
  private async startSession(user: PromptUser, conversationId: string): Promise<string> {
    try {
      return (await this.deps.sessions.create(user, { conversationId })).session.id;
    } catch (error) {
      if (!isAppError(error) || error.code !== 'CONVERSATION_IN_USE') throw error;
      const taken = await this.deps.database.db
        .selectFrom('conversations')
        .select('session_id')
        .where('id', '=', conversationId)
        .executeTakeFirstOrThrow();
      return taken.session_id!;
    }
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
      throw new AppError(
        'QUOTA_EXCEEDED',
        `You have spent $${spent.toFixed(4)} on language models this month, which reaches your limit of $${limit}. It resets on the first of the month (UTC).`,
        {
          details: {
            spentUsd: spent,
            limitUsd: limit,
          },
        },
      );
    }
  }

  /**
   * Stops the session's unfinished turn, wherever it runs: it ends `cancelled` and the session
   * stays usable. A turn another instance executes is asked to stop (it does at its next
   * heartbeat or step) and awaited; a turn awaiting a decision on a tool call just ends.
   */
  async cancel(sessionId: string): Promise<boolean> {
    const { db } = this.deps.database;
    // Recorded first, so the cancel holds even if this instance cannot record the turn's end.
    const running = await db
      .updateTable('turns')
      .set({ cancel_requested: true })
      .where('session_id', '=', sessionId)
      .where('status', '=', 'running')
      .returning('id')
      .executeTakeFirst();
    const local = this.executions.get(sessionId);
    if (local) {
      local.turn.abort(stopReasons.cancel);
      await local.done;
      return true;
    }
    if (running) {
      // Another instance runs it: it stops at its next heartbeat or step. Say whether it has.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const turn = await db.selectFrom('turns').select('status').where('id', '=', running.id).executeTakeFirst();
        if (turn?.status !== 'running') return true;
        await sleep(50);
      }
      return false;
    }
    const suspended = await db
      .selectFrom('turns')
      .select(['id', 'user_id'])
      .where('session_id', '=', sessionId)
      .where('status', '=', 'suspended')
      .executeTakeFirst();
    if (!suspended) return false;
    return this.deps.database.transaction(async (tx) => {
      await lockSession(tx, sessionId);
      const ended = await endTurn(tx, suspended.id, { status: 'suspended' }, { status: 'cancelled' });
      if (ended) await this.deps.bus.publish(tx, { userId: suspended.user_id, topic: sessionTopic(sessionId), event: ended });
      return ended !== undefined;
    });
  }

  /**
   * The user's decision on a tool call whose outcome is unknown after a crash: `retry` runs it
   * again, `skip` gives the model a note instead of its result, and both resume the turn; `fail`
   * fails the session.
   */
  async resolve(
    userId: string,
    sessionId: string,
    decision: { action: 'retry' | 'skip' | 'fail'; note?: string | undefined },
  ): Promise<void> {
    const { db } = this.deps.database;
    const turn = await db
      .selectFrom('turns')
      .selectAll()
      .where('session_id', '=', sessionId)
      .where('user_id', '=', userId)
      .where('status', '=', 'suspended')
      .executeTakeFirst();
    if (!turn) throw new AppError('NOTHING_TO_RESOLVE');
    const reason = `the user chose to ${decision.action} a tool call whose outcome was unknown`;
    const token = this.leases.newToken();
    await this.deps.database.transaction(async (tx) => {
      // The session first (the order of every session write), then the turn, checked again.
      const moved = await this.deps.sessions.transition(tx, sessionId, decision.action === 'fail' ? 'resolve-fail' : 'resolve-resume', {
        reason,
      });
      if (!moved) throw new AppError('INVALID_TRANSITION', 'The session is no longer paused on this call: read it again.');
      if (decision.action === 'fail') {
        const ended = await endTurn(tx, turn.id, { status: 'suspended' }, { status: 'failed' });
        if (!ended) throw new AppError('SESSION_LOCKED');
        await this.deps.bus.publish(tx, { userId, topic: sessionTopic(sessionId), event: ended });
        return;
      }
      const resumed = await tx
        .updateTable('turns')
        .set({ status: 'running', error: null, lease_owner: token, lease_expires_at: this.leases.expiry() })
        .where('id', '=', turn.id)
        .where('status', '=', 'suspended')
        .returning('id')
        .executeTakeFirst();
      if (!resumed) throw new AppError('SESSION_LOCKED');
      await this.ledger.resolveUnknown(
        tx,
        turn.id,
        decision.action === 'retry'
          ? { action: 'retry' }
          : { action: 'skip', note: decision.note ?? 'The user chose not to run this call again; whether it had its effect is unknown.' },
      );
    });
    if (decision.action === 'fail') return;
    const session = await db.selectFrom('agent_sessions').selectAll().where('id', '=', sessionId).executeTakeFirstOrThrow();
    void this.execute(session, turn, token, true);
  }

  /**
   * Lets every turn of this instance go: model calls stop, a running tool finishes and is
   * recorded, and each lease is released so another instance resumes the turn at once.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.recoveryTimer);
    await this.recovering;
    const running = [...this.executions.values()];
    for (const execution of running) execution.shutdown.abort();
    await Promise.all(running.map((execution) => execution.done));
  }

  /** A conversation's messages in order, after `afterSeq`, with tool calls and usage. */
  async messages(
    userId: string,
    conversationId: string,
    page: { limit: number; after?: number | undefined },
  ): Promise<{ messages: MessageView[]; next: number | null }> {
    const { db } = this.deps.database;
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
      .where('seq', '>', String(page.after ?? 0) as never)
      .orderBy('seq')
      .limit(page.limit + 1)
      .execute();
    const shown = rows.slice(0, page.limit);
    return { messages: shown.map(toMessageView), next: rows.length > page.limit ? Number(shown.at(-1)!.seq) : null };
  }

  /** Claims turns whose lease expired (at start, with `evenUnexpired`, every running turn) and resumes them. */
  private recover(options: { evenUnexpired?: boolean } = {}): Promise<void> {
    if (this.stopped || this.recovering) return this.recovering ?? Promise.resolve();
    this.recovering = (async () => {
      try {
        let claimed: Array<TurnRow & { token: string }>;
        do {
          claimed = await this.leases.reclaimExpired(10, options);
          await this.resume(claimed);
        } while (claimed.length === 10);
      } catch (error) {
        this.deps.onError(error, 'could not look for turns to recover');
      } finally {
        this.recovering = undefined;
      }
    })();
    return this.recovering;
  }

  /** Resumes claimed turns here; a turn recovered too often fails its session instead. */
  private async resume(claimed: Array<TurnRow & { token: string }>): Promise<void> {
    for (const turn of claimed) {
      try {
        if (turn.recoveries > this.deps.leases.maxRecoveries) await this.exhausted(turn);
        else {
          const session = await this.deps.database.db
            .selectFrom('agent_sessions')
            .selectAll()
            .where('id', '=', turn.session_id)
            .executeTakeFirst();
          if (session) void this.execute(session, turn, turn.token, true);
        }
      } catch (error) {
        this.deps.onError(error, `could not resume turn ${turn.id}`);
      }
    }
  }

  /**
   * A turn that kept failing to be recovered: it fails, and so does its session; unless the user
   * had cancelled it, in which case it just ends cancelled.
   */
  private async exhausted(turn: TurnRow & { token: string }): Promise<void> {
    const status = turn.cancel_requested ? 'cancelled' : 'failed';
    const error: ReportedError | undefined = turn.cancel_requested
      ? undefined
      : {
          code: 'RECOVERY_EXHAUSTED',
          message: `The turn was interrupted and resumed ${turn.recoveries - 1} times without finishing; it was stopped.`,
        };
    await this.deps.database.transaction(async (tx) => {
      if (error) await this.deps.sessions.transition(tx, turn.session_id, 'recovery-exhausted', { reason: error.message, error });
      else await lockSession(tx, turn.session_id);
      const ended = await endTurn(tx, turn.id, { leaseOwner: turn.token }, { status, error });
      if (!ended) throw new LeaseLost(`The turn ${turn.id} is no longer held by ${turn.token}.`);
      await this.deps.bus.publish(tx, { userId: turn.user_id, topic: sessionTopic(turn.session_id), event: ended });
    });
  }

  /** Gives a lease up once the database answers again, so a recovery need not wait for it to lapse. */
  private async releaseWhenReachable(turnId: string, token: string): Promise<void> {
    const deadline = Date.now() + this.deps.leases.ttlMs;
    while (Date.now() < deadline && !this.stopped) {
      await sleep(250);
      try {
        await this.leases.release(turnId, token);
        return;
      } catch {
        // Still out of reach: the lease lapses by itself.
      }
    }
  }

  /** Runs the turn here under `token`, with a heartbeat that renews the lease and hears cancels. */
  private execute(
    session: SessionRow,
    turn: Pick<TurnRow, 'id' | 'conversation_id'>,
    token: string,
    resumed: boolean,
  ): Promise<TurnOutcome> {
    const execution: Execution = {
      turnId: turn.id,
      sessionId: session.id,
      token,
      turn: new AbortController(),
      shutdown: new AbortController(),
      resumed,
      done: Promise.resolve(undefined as never),
    };
    const heartbeat = setInterval(() => void this.heartbeat(execution), Math.max(100, Math.floor(this.deps.leases.ttlMs / 3)));
    heartbeat.unref();
    this.executions.set(session.id, execution);
    execution.done = this.run(session, turn.conversation_id, execution).finally(() => {
      clearInterval(heartbeat);
      if (this.executions.get(session.id) === execution) this.executions.delete(session.id);
    });
    return execution.done;
  }

  private async heartbeat(execution: Execution): Promise<void> {
    try {
      const state = await this.leases.renew(this.deps.database.db, execution.turnId, execution.token);
      if (state.cancelRequested) execution.turn.abort(stopReasons.cancel);
    } catch (error) {
      if (error instanceof LeaseLost) execution.turn.abort(stopReasons.leaseLost);
      // A database that cannot be reached: the turn's next write says so, and the lease may lapse.
    }
  }

  /**
   * Runs the turn from wherever it is recorded to be, to its end. Never rejects: whatever
   * happens is recorded on the turn, or left for another execution to resume.
   */
  private async run(session: SessionRow, conversationId: string, execution: Execution): Promise<TurnOutcome> {
    const { turnId, token } = execution;
    const signal = execution.turn.signal;
    const modelSignal = AbortSignal.any([signal, execution.shutdown.signal]);
    let last: MessageView | null = null;
    try {
      const model = this.deps.models.resolve(session.model);

      let step = 0;
      if (execution.resumed) {
        // The last step recorded is not asked of the model again; its calls are finished first.
        const ending = await this.boundary(session, execution, last);
        if (ending) return ending;
        const recorded = await this.deps.database.db
          .selectFrom('messages')
          .selectAll()
          .where('turn_id', '=', turnId)
          .where('role', '=', 'assistant')
          .orderBy('step', 'desc')
          .limit(1)
          .executeTakeFirst();
        if (recorded) {
          step = recorded.step;
          last = toMessageView(recorded);
          if (last.toolCalls.length === 0) return await this.finish(session, execution, 'completed', last);
          const answered = await this.deps.database.db
            .selectFrom('messages')
            .select('id')
            .where('turn_id', '=', turnId)
            .where('step', '=', step)
            .where('role', '=', 'tool')
            .executeTakeFirst();
          if (!answered) {
            const tools = await this.deps.toolsFor(session.user_id, session.tools);
            const end = await this.runRecordedCalls(session, execution, conversationId, step, tools, last);
            if (end) return end;
          }
        }
      }

      for (step += 1; step <= this.deps.maxSteps; step++) {
        const stop = await this.boundary(session, execution, last);
        if (stop) return stop;
        const tools = await this.deps.toolsFor(session.user_id, session.tools);
        const toolSet: ToolSet = Object.fromEntries(
          [...tools.values()].map((t) => [t.name, tool({ description: t.description, inputSchema: jsonSchema(t.inputSchema) })]),
        );
        const history = await this.deps.database.db
          .selectFrom('messages')
          .selectAll()
          .where('conversation_id', '=', conversationId)
          .orderBy('seq')
          .execute();
        const answer = await this.modelStep(session, model, history, toolSet, { conversationId, step }, modelSignal);
        last = await this.recordAnswer(session, execution, conversationId, step, answer, tools).catch((error: unknown) => {
          // The answer was not recorded (the session stopped running, the lease or the database was
          // lost): what the call cost is still recorded with the turn's end, where that can be.
          throw new InterruptedModelCall(error, {
            conversationId,
            step,
            messageId: answer.messageId,
            text: '',
            latencyMs: answer.latencyMs,
            usage: answer.usage,
            cost: answer.cost,
          });
        });
        if (answer.calls.length === 0) {
          this.deps.reach('after-checkpoint');
          return await this.finish(session, execution, 'completed', last);
        }
        const end = await this.runRecordedCalls(session, execution, conversationId, step, tools, last);
        if (end) return end;
      }
      return await this.finish(session, execution, 'step_limit', last, {
        code: 'STEP_LIMIT',
        message: `The turn stopped after ${this.deps.maxSteps} steps: the model kept calling tools.`,
      });
    } catch (thrown) {
      const interrupted = thrown instanceof InterruptedModelCall ? thrown : undefined;
      const error = toDatabaseError(interrupted ? interrupted.cause : thrown);
      if (signal.reason === stopReasons.leaseLost || error instanceof LeaseLost) return { turnId, status: 'running', message: last };
      if (signal.reason === stopReasons.cancel) return this.finish(session, execution, 'cancelled', last, undefined, interrupted);
      if (execution.shutdown.signal.aborted) {
        // Shutdown: what finished is recorded; the lease goes so another instance resumes at once.
        try {
          if (interrupted)
            await this.recordModelCall(this.deps.database.db, session, turnId, interrupted.step, {
              ...interrupted,
              error: { code: 'SHUTDOWN', message: 'The instance shut down during the model call.' },
            });
          await this.leases.release(turnId, token);
        } catch (failure) {
          this.deps.onError(failure, `could not release turn ${turnId}`);
        }
        return { turnId, status: 'running', message: last };
      }
      if (isAppError(error) && (error.code === 'DATABASE_UNAVAILABLE' || error.code === 'DATABASE_BUSY')) {
        // The database is out of reach: nothing more can be recorded here. The lease is given up
        // as soon as the database answers (or lapses), and an instance (this one too) resumes the
        // turn from what was recorded.
        this.deps.onError(error, `turn ${turnId} left for recovery`);
        void this.releaseWhenReachable(turnId, token);
        return { turnId, status: 'running', message: last };
      }
      if (isAppError(error) && error.code === 'SESSION_NOT_RUNNING')
        return this.finish(session, execution, 'cancelled', last, { code: error.code, message: error.message }, interrupted);
      const appError = isAppError(error) ? error : new AppError('INTERNAL', { cause: error });
      if (!isAppError(error)) this.deps.onError(error, `turn ${turnId} failed`);
      return this.finish(session, execution, 'failed', last, { code: appError.code, message: appError.message }, interrupted);
    }
  }

  /**
   * Between steps: renews the lease and hears what happened meanwhile. Returns the turn's end when
   * it must stop here (a cancel, or a session no longer running); throws on shutdown.
   */
  private async boundary(session: SessionRow, execution: Execution, last: MessageView | null): Promise<TurnOutcome | undefined> {
    const state = await this.leases.renew(this.deps.database.db, execution.turnId, execution.token);
    if (state.cancelRequested) execution.turn.abort(stopReasons.cancel);
    if (execution.turn.signal.aborted) throw execution.turn.signal.reason;
    if (execution.shutdown.signal.aborted) throw execution.shutdown.signal.reason;
    if (state.sessionStatus === 'completed') return this.finish(session, execution, 'completed', last);
    if (state.sessionStatus !== 'running')
      return this.finish(session, execution, 'cancelled', last, {
        code: 'SESSION_NOT_RUNNING',
        message: `The session became ${state.sessionStatus}.`,
      });
    return undefined;
  }

  /**
   * One model call, streamed: text goes out as deltas, tool calls are collected. A call that fails
   * or is cancelled throws an InterruptedModelCall carrying what it had written.
   */
  private async modelStep(
    session: SessionRow,
    model: ReturnType<LanguageModels['resolve']>,
    history: MessageRow[],
    toolSet: ToolSet,
    at: { conversationId: string; step: number },
    signal: AbortSignal,
  ) {
    const messageId = randomUUID();
    const deltas = new DeltaCoalescer((offset, text) =>
      this.announce(session, { type: 'message.delta', data: { sessionId: session.id, messageId, offset, text } }),
    );
    const started = performance.now();
    let text = '';
    const calls: RecordedToolCall[] = [];
    try {
      const result = streamText({
        model,
        system: session.system_prompt,
        messages: toModelMessages(history),
        tools: toolSet,
        abortSignal: signal,
        maxRetries: 0,
        onError: () => undefined,
      });
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

  /**
   * The model's answer in one transaction: the assistant message, its model-call record, its tool
   * calls in the ledger and the session's counters; when it calls no tools, the step's checkpoint.
   */
  private async recordAnswer(
    session: SessionRow,
    execution: Execution,
    conversationId: string,
    step: number,
    answer: Awaited<ReturnType<AgentRunner['modelStep']>>,
    tools: Map<string, ToolDefinition>,
  ): Promise<MessageView> {
    return this.deps.database.transaction(async (tx) => {
      await this.leases.renew(tx, execution.turnId, execution.token);
      const assistant = await tx
        .insertInto('messages')
        .values({
          conversation_id: conversationId,
          session_id: session.id,
          user_id: session.user_id,
          turn_id: execution.turnId,
          step,
          id: answer.messageId,
          role: 'assistant',
          content: answer.text,
          // Serialised here: the driver would send a JS array as a PostgreSQL array, not JSON.
          tool_calls: JSON.stringify(answer.calls),
          model: session.model,
          input_tokens: answer.usage.inputTokens,
          output_tokens: answer.usage.outputTokens,
          cost_usd: answer.cost,
          latency_ms: answer.latencyMs,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await this.recordModelCall(tx, session, execution.turnId, step, { ...answer, error: null });
      await this.ledger.record(
        tx,
        answer.calls.map((call, callIndex) => ({
          sessionId: session.id,
          turnId: execution.turnId,
          userId: session.user_id,
          step,
          callIndex,
          callId: call.callId,
          tool: call.tool,
          input: call.input,
          idempotent: tools.get(call.tool)?.idempotent ?? true, // a refusal has no effect to repeat
        })),
      );
      await this.deps.sessions.recordStep(
        tx,
        session.id,
        step,
        {
          ...noCounts,
          messages: 1,
          inputTokens: answer.usage.inputTokens,
          outputTokens: answer.usage.outputTokens,
          costUsd: answer.cost ?? 0,
        },
        {
          checkpoint: answer.calls.length === 0,
          events: [
            { type: 'message.completed', data: { sessionId: session.id, messageId: assistant.id, role: 'assistant', text: answer.text } },
          ],
        },
      );
      return toMessageView(assistant);
    });
  }

  /**
   * The rest of a step whose answer is recorded: its calls, then their results. Returns the turn's
   * end when the step ends it (a call whose outcome is unknown, or the agent completing the session).
   */
  private async runRecordedCalls(
    session: SessionRow,
    execution: Execution,
    conversationId: string,
    step: number,
    tools: Map<string, ToolDefinition>,
    last: MessageView,
  ): Promise<TurnOutcome | undefined> {
    const ran = await this.runCalls(session, execution, tools, step);
    if ('unknown' in ran) return this.suspend(session, execution, last, ran.unknown);
    if (await this.recordToolResults(session, execution, conversationId, step, ran.results))
      return this.finish(session, execution, 'completed', last);
    return undefined;
  }

  /**
   * Runs the step's recorded calls in order, each under its ledger entry. A completed call is not
   * run again; one that may have begun runs again only if its tool is idempotent, and otherwise
   * stops the turn with its outcome unknown.
   */
  private async runCalls(
    session: SessionRow,
    execution: Execution,
    tools: Map<string, ToolDefinition>,
    step: number,
  ): Promise<{ results: Array<{ entry: LedgerEntry } & ToolOutcome> } | { unknown: LedgerEntry }> {
    const results: Array<{ entry: LedgerEntry } & ToolOutcome> = [];
    for (const entry of await this.ledger.forStep(execution.turnId, step)) {
      if (entry.status === 'completed' || entry.status === 'skipped') {
        results.push({ entry, isError: entry.is_error, value: entry.result, durationMs: entry.duration_ms ?? 0 });
        continue;
      }
      if (entry.status === 'started' && !entry.idempotent) return { unknown: entry };
      // Shutdown lets a running tool finish, but starts no other.
      if (execution.shutdown.signal.aborted) throw execution.shutdown.signal.reason;
      if (execution.turn.signal.aborted) throw execution.turn.signal.reason;
      this.deps.reach('before-tool');
      await this.deps.database.transaction(async (tx) => {
        await this.leases.renew(tx, execution.turnId, execution.token);
        await this.ledger.begin(tx, entry);
        await this.deps.bus.publish(tx, {
          userId: session.user_id,
          topic: sessionTopic(session.id),
          event: { type: 'tool.started', data: { ...toolLabel(session, entry), arguments: redactArguments(entry.input) } },
        });
      });
      const outcome = await this.callTool(tools, entry, execution.turn.signal);
      this.deps.reach('tool-ran');
      await this.ledger.complete(entry, outcome, execution.token, this.leases);
      this.deps.reach('after-tool');
      results.push({ entry, ...outcome });
    }
    return { results };
  }

  /** Runs one tool call; refusals and failures become tool errors the model reads, and the turn goes on. */
  private async callTool(tools: Map<string, ToolDefinition>, entry: LedgerEntry, signal: AbortSignal): Promise<ToolOutcome> {
    const started = performance.now();
    const definition = tools.get(entry.tool);
    let outcome: { isError: false; value: unknown } | { isError: true; value: ReportedError };
    if (!definition) {
      const gone = entry.tool.includes('__') ? ' (its integration is not connected now)' : '';
      outcome = { isError: true, value: { code: 'TOOL_NOT_ALLOWED', message: `There is no tool "${entry.tool}" in this session${gone}.` } };
    } else {
      try {
        definition.parse(entry.input);
        outcome = { isError: false, value: await definition.execute(entry.input, { signal, idempotencyKey: entry.idempotency_key }) };
      } catch (error) {
        outcome = { isError: true, value: reportToolFailure(error) };
      }
    }
    return { ...outcome, durationMs: Math.round(performance.now() - started) };
  }

  /**
   * The step's second transaction: its tool results as messages, the session's counters, the
   * checkpoint and the tool events. Recorded whatever the session's status now: the calls ran.
   * Returns whether the agent completed the session.
   */
  private async recordToolResults(
    session: SessionRow,
    execution: Execution,
    conversationId: string,
    step: number,
    results: Array<{ entry: LedgerEntry } & ToolOutcome>,
  ): Promise<boolean> {
    const completes = results.some((r) => r.entry.tool === completeSessionToolName && !r.isError);
    await this.deps.database.transaction(async (tx) => {
      await this.leases.renew(tx, execution.turnId, execution.token);
      if (results.length === 0) return; // calls recorded by an older version, without a ledger
      await tx
        .insertInto('messages')
        .values(
          results.map(({ entry, isError, value }) => ({
            conversation_id: conversationId,
            session_id: session.id,
            user_id: session.user_id,
            turn_id: execution.turnId,
            step,
            role: 'tool' as const,
            tool_call_id: entry.call_id,
            tool_name: entry.tool,
            tool_result: JSON.stringify(value ?? null),
            is_error: isError,
          })),
        )
        .execute();
      const events: AgentryEvent[] = results.map(({ entry, isError, value, durationMs }) =>
        isError
          ? { type: 'tool.failed', data: { ...toolLabel(session, entry), durationMs, error: value as ReportedError } }
          : { type: 'tool.completed', data: { ...toolLabel(session, entry), durationMs, result: value } },
      );
      const counts = { ...noCounts, messages: results.length, toolCalls: results.length, errors: results.filter((r) => r.isError).length };
      await this.deps.sessions.recordStep(tx, session.id, step, counts, { requireRunning: false, complete: completes, events });
    });
    this.deps.reach('after-checkpoint');
    return completes;
  }

  /**
   * A call that may have had its effect, of a tool that must not run twice: the turn waits,
   * holding nothing, and the session pauses with TOOL_OUTCOME_UNKNOWN until the user resolves it.
   */
  private async suspend(session: SessionRow, execution: Execution, last: MessageView | null, entry: LedgerEntry): Promise<TurnOutcome> {
    const error: ReportedError = {
      code: 'TOOL_OUTCOME_UNKNOWN',
      message: `The call of ${entry.tool} (${entry.idempotency_key}) was interrupted and may or may not have had its effect; retry it, skip it or fail the session.`,
    };
    const waits = await this.deps.database.transaction(async (tx) => {
      const state = await this.leases.renew(tx, execution.turnId, execution.token);
      // A session the user paused, completed or failed meanwhile has no use for the turn: it ends.
      if (state.sessionStatus !== 'running') return false;
      await tx
        .updateTable('turns')
        .set({ status: 'suspended', error, lease_owner: null, lease_expires_at: null })
        .where('id', '=', execution.turnId)
        .execute();
      await this.deps.sessions.transition(tx, session.id, 'outcome-unknown', { reason: error.message, error });
      return true;
    });
    if (!waits) return this.finish(session, execution, 'cancelled', last, error);
    return { turnId: execution.turnId, status: 'suspended', message: last, error };
  }

  /** Publishes an event that reports progress rather than a change: in a transaction of its own. */
  private async announce(session: SessionRow, event: AgentryEvent): Promise<void> {
    await this.deps.database.transaction((tx) =>
      this.deps.bus.publish(tx, { userId: session.user_id, topic: sessionTopic(session.id), event }),
    );
  }

  /**
   * Records how the turn ended, with the model call it interrupted (if any). A cancelled call's
   * text, already streamed as deltas, is kept as the step's assistant message, so the transcript
   * says what clients saw. A failure counts as an error on the session, whatever its status now.
   * If even this cannot be written (the session was deleted meanwhile), it is logged.
   */
  private async finish(
    session: SessionRow,
    execution: Execution,
    status: EndStatus,
    last: MessageView | null,
    error?: ReportedError,
    interrupted?: InterruptedModelCall,
  ): Promise<TurnOutcome> {
    const { turnId } = execution;
    let message = last;
    try {
      await this.deps.database.transaction(async (tx) => {
        // The session row first (the order of every session write), then the lease: an execution
        // that lost it records nothing.
        await lockSession(tx, session.id);
        const ended = await tx
          .updateTable('turns')
          .set({
            status,
            error: (error ?? null) as never,
            finished_at: sql<Date>`now()`,
            steps: last?.step ?? 0,
            lease_owner: null,
            lease_expires_at: null,
          })
          .where('id', '=', turnId)
          .where('lease_owner', '=', execution.token)
          .returning('id')
          .executeTakeFirst();
        if (!ended) return;
        const events: AgentryEvent[] = [];
        if (interrupted) {
          const { step, messageId, text, latencyMs } = interrupted;
          const callError: ReportedError = error ?? { code: 'CANCELLED', message: 'The turn was cancelled during the model call.' };
          await this.recordModelCall(tx, session, turnId, step, { ...interrupted, error: callError });
          if (status === 'cancelled' && text !== '') {
            const row = await tx
              .insertInto('messages')
              .values({
                id: messageId,
                conversation_id: interrupted.conversationId,
                session_id: session.id,
                user_id: session.user_id,
                turn_id: turnId,
                step,
                role: 'assistant',
                content: text,
                model: session.model,
                latency_ms: latencyMs,
              })
              .returningAll()
              .executeTakeFirstOrThrow();
            message = toMessageView(row);
            events.push({ type: 'message.completed', data: { sessionId: session.id, messageId, role: 'assistant', text } });
          }
        }
        await this.deps.sessions.recordTurnEnd(tx, session.id, { messages: events.length, error: status === 'failed' ? error : undefined });
        // Clients learn how every turn ended; for a cancelled one this says its deltas are final.
        events.push({
          type: 'turn.ended',
          data: { sessionId: session.id, turnId, status, steps: message?.step ?? 0, ...(error ? { error } : {}) },
        });
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
    call: { usage: { inputTokens: number; outputTokens: number }; cost: number | null; latencyMs: number; error: ReportedError | null },
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

/**
 * A model call that did not end in a recorded step (it failed, was cancelled, or its answer could
 * not be recorded), with the text it had streamed and, if it answered, what it used.
 */
class InterruptedModelCall extends Error {
  override readonly name = 'InterruptedModelCall';
  readonly step: number;
  readonly messageId: string;
  readonly text: string;
  readonly latencyMs: number;
  readonly conversationId: string;
  readonly usage: { inputTokens: number; outputTokens: number };
  readonly cost: number | null;

  constructor(
    cause: unknown,
    details: {
      step: number;
      messageId: string;
      text: string;
      latencyMs: number;
      conversationId: string;
      usage?: { inputTokens: number; outputTokens: number };
      cost?: number | null;
    },
  ) {
    super('The model call did not finish.', { cause });
    ({
      step: this.step,
      messageId: this.messageId,
      text: this.text,
      latencyMs: this.latencyMs,
      conversationId: this.conversationId,
    } = details);
    this.usage = details.usage ?? { inputTokens: 0, outputTokens: 0 };
    this.cost = details.cost ?? null;
  }
}

/** How a tool call is named in events, whose ids are capped: a model may invent very long names. */
function toolLabel(session: SessionRow, entry: LedgerEntry) {
  return { sessionId: session.id, callId: entry.call_id.slice(0, 200), tool: entry.tool.slice(0, 200) };
}

/** Locks the session's row: the first lock of every transaction that writes a session and its turn. */
async function lockSession(tx: Executor, sessionId: string): Promise<void> {
  await tx.selectFrom('agent_sessions').select('id').where('id', '=', sessionId).forNoKeyUpdate().execute();
}

const noCounts = { messages: 0, toolCalls: 0, errors: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };

export function toMessageView(row: MessageRow): MessageView {
  return {
    id: row.id,
    turnId: row.turn_id,
    step: row.step,
    role: row.role,
    content: row.content,
    // Shown redacted, as every event shows arguments; the model's own history keeps them whole.
    toolCalls: (row.tool_calls as unknown as RecordedToolCall[]).map((call) => ({ ...call, input: redactArguments(call.input) })),
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
