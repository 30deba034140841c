import { toDatabaseError, type TurnStatus } from '../database/index.ts';
import { AppError, isAppError, type ReportedError } from '../errors.ts';
import type { FaultInjector } from '../fault-injection.ts';
import type { StepTrace, TurnTrace, TurnTracer } from '../observability/index.ts';
import type { ContextWindows, LanguageModels } from '../providers/index.ts';
import {
  LeaseLost,
  type EndStatus,
  type LedgerEntry,
  type MessageRow,
  type MessageView,
  type SessionContextStore,
  type SessionRow,
  type TurnState,
  type TurnStore,
} from '../sessions/index.ts';
import { completeSessionToolName } from '../templates/index.ts';
import type { ToolDefinition, ToolsFor } from '../tools/index.ts';
import type { ApprovalGate, SessionApprovalPolicy } from './approval-gate.ts';
import { InterruptedModelCall, runModelStep } from './model-step.ts';
import { rememberToolName } from './remember-tool.ts';
import { foldedCalls, runStepCalls, type CallingTurn } from './tool-calls.ts';
import { ConversationHistory } from './conversation-history.ts';
import { TurnContext } from './turn-context.ts';

export interface TurnOutcome {
  turnId: string;
  /** `running` when this instance let the turn go (shutdown, lost lease or database) for another to resume. */
  status: TurnStatus;
  /** The turn's last assistant message, if it wrote one. */
  message: MessageView | null;
  error?: ReportedError | undefined;
}

/** What every execution shares: the turn store it writes through, the models and tools it uses. */
export interface TurnExecutionDeps {
  turns: TurnStore;
  models: LanguageModels;
  toolsFor: ToolsFor;
  /** Model calls per turn before it ends with `step_limit`. */
  maxSteps: number;
  /** How long a lease lasts unrenewed: the heartbeat renews it three times as often. */
  leaseTtlMs: number;
  /** Gives the lease up once the database answers again (see TurnRecovery.releaseWhenReachable). */
  releaseWhenReachable: (turn: { turnId: string; token: string }) => void;
  reach: FaultInjector;
  onError: (error: unknown, context: string) => void;
  /** Spans of the turn, its steps, model calls and tool calls (no-ops when tracing is off). */
  tracer: TurnTracer;
  /** Each model's context window, which every step's history is fitted to. */
  contextWindows: ContextWindows;
  /** The session's context (read and kept by `remember`) and its conversations' running summaries. */
  sessionContext: SessionContextStore;
  /** The approval policy, and the calls that wait for a person. */
  approvals: ApprovalGate;
}

/** Where an execution starts: the turn, its session, the lease token it holds, and whether the turn is new. */
export interface TurnStart {
  session: SessionRow;
  turn: { id: string; conversation_id: string };
  token: string;
  /** Taken over (after a crash, a handover or a decision) rather than just started: it may have recorded steps. */
  resumed: boolean;
  /** The session's approval policy, when its read was started already (beside the turn's opening). */
  policy?: Promise<SessionApprovalPolicy> | undefined;
  /** The whole conversation, when the opening knows it without a read (a session's first message). */
  conversation?: readonly MessageRow[] | undefined;
}

/** Why an execution was stopped from outside its loop. */
const stopReasons = { cancel: 'cancelled by the user', leaseLost: 'the lease went to another execution' } as const;

/**
 * One execution of one turn, on this instance, under one lease: from wherever the turn is recorded
 * to be (a new turn, or one taken over after a crash, a handover or a decision) to its end, step by
 * step. It starts at once; `done` settles with the outcome and never rejects: whatever happens is
 * recorded on the turn, or left for another execution to resume. A heartbeat renews the lease
 * meanwhile and hears a cancel asked for on any instance.
 */
export class TurnExecution implements CallingTurn {
  readonly turnId: string;
  readonly conversationId: string;
  readonly session: SessionRow;
  readonly token: string;
  readonly resumed: boolean;
  readonly done: Promise<TurnOutcome>;
  /** Aborts everything, tool calls included: a cancel, or a lost lease. */
  private readonly stopper = new AbortController();
  /** Aborts the model call only: shutdown lets a running tool finish and be recorded. */
  private readonly shutdown = new AbortController();
  /** The turn's last recorded assistant message. */
  private last: MessageView | null = null;
  private readonly history: ConversationHistory;
  private readonly trace: TurnTrace;
  /** What the turn's model calls read besides the transcript, fitted to the window. */
  private readonly context: TurnContext;
  /** The session's approval policy, read once per execution (a decision starts a new one). */
  private policy: Promise<SessionApprovalPolicy> | undefined;
  /** What the last write read renewing the lease (or the turn's opening, just done): the next boundary's check. */
  private renewed: TurnState | undefined;

  constructor(
    private readonly deps: TurnExecutionDeps,
    start: TurnStart,
  ) {
    ({ session: this.session, token: this.token, resumed: this.resumed, policy: this.policy } = start);
    ({ id: this.turnId, conversation_id: this.conversationId } = start.turn);
    if (!start.resumed) this.renewed = { cancelRequested: false, sessionStatus: 'running' };
    this.trace = deps.tracer.turn({
      turnId: this.turnId,
      sessionId: this.session.id,
      conversationId: this.conversationId,
      model: this.session.model,
      resumed: this.resumed,
    });
    this.context = new TurnContext({ ...deps, prices: deps.models.prices }, this);
    this.history = new ConversationHistory(deps.turns.transcript, this.conversationId, this.context, start.conversation);
    this.done = this.run().then((outcome) => {
      this.trace.end(outcome);
      return outcome;
    });
  }

  get signal(): AbortSignal {
    return this.stopper.signal;
  }

  get shutdownSignal(): AbortSignal {
    return this.shutdown.signal;
  }

  /** Stops the turn at once, a running tool call included; it ends `cancelled`. */
  cancel(): void {
    this.stopper.abort(stopReasons.cancel);
  }

  /** Lets the turn go: the model call stops, a running tool finishes, and the lease is released. */
  letGo(): void {
    this.shutdown.abort();
  }

  private async run(): Promise<TurnOutcome> {
    const heartbeat = setInterval(() => void this.heartbeat(), Math.max(100, Math.floor(this.deps.leaseTtlMs / 3)));
    heartbeat.unref();
    try {
      return await this.steps();
    } catch (thrown) {
      return await this.leave(thrown);
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async heartbeat(): Promise<void> {
    try {
      const state = await this.deps.turns.renew(this);
      if (state.cancelRequested) this.stopper.abort(stopReasons.cancel);
    } catch (error) {
      if (error instanceof LeaseLost) this.stopper.abort(stopReasons.leaseLost);
      // A database that cannot be reached: the turn's next write says so, and the lease may lapse.
    }
  }

  /** The steps, from the first one not recorded; each is one model call and the tool calls it asks for. */
  private async steps(): Promise<TurnOutcome> {
    const model = this.deps.models.resolve(this.session.model);
    const modelSignal = AbortSignal.any([this.stopper.signal, this.shutdown.signal]);
    let step = 0;
    if (this.resumed) {
      const resumed = await this.finishRecordedStep();
      if ('end' in resumed) return resumed.end;
      step = resumed.step;
    }
    for (step += 1; step <= this.deps.maxSteps; step++) {
      const stop = await this.boundary();
      if (stop) return stop;
      const trace = this.trace.step(step);
      try {
        const end = await this.step(step, trace, model, modelSignal);
        if (end) return end;
      } finally {
        trace.end();
      }
    }
    return await this.finish('step_limit', {
      error: { code: 'STEP_LIMIT', message: `The turn stopped after ${this.deps.maxSteps} steps: the model kept calling tools.` },
    });
  }

  /** One step: the model call, its answer recorded, then the calls it asks for. Returns the turn's end if the step ends it. */
  private async step(
    step: number,
    trace: StepTrace,
    model: ReturnType<LanguageModels['resolve']>,
    modelSignal: AbortSignal,
  ): Promise<TurnOutcome | undefined> {
    const tools = await this.toolsNow();
    const answer = await runModelStep({
      session: this.session,
      model,
      prices: this.deps.models.prices,
      prompt: await this.context.prompt({
        history: await this.history.now(),
        tools,
        step,
        model,
        signal: modelSignal,
      }),
      tools,
      step,
      signal: modelSignal,
      announce: (event) => this.deps.turns.announce(this, event),
      trace,
    });
    const idempotent = (tool: string) => tools.get(tool)?.idempotent ?? true; // a refusal has no effect to repeat
    const folded = foldedCalls(answer.calls, { tools, idempotent, policy: await this.policyNow() });
    const recorded = await this.deps.turns.steps.recordAnswer(this, { step, answer, idempotent, folded }).catch((error: unknown) => {
      // The answer was not recorded (the session stopped running, the lease or the database was
      // lost): what the call cost is still recorded with the turn's end, where that can be.
      throw new InterruptedModelCall(error, { ...answer, step, text: '' });
    });
    this.last = recorded.message;
    this.history.written([recorded.row]);
    if (answer.calls.length === 0) {
      this.deps.reach('after-checkpoint');
      return await this.finish('completed');
    }
    return await this.runCalls(step, tools, trace, { recorded: recorded.calls, folded });
  }

  /**
   * A resumed turn's last recorded step is not asked of the model again: its calls are finished
   * first. Returns the step to go on from, or the turn's end.
   */
  private async finishRecordedStep(): Promise<{ step: number } | { end: TurnOutcome }> {
    const ending = await this.boundary();
    if (ending) return { end: ending };
    const recorded = await this.deps.turns.transcript.lastAnswer(this.turnId);
    if (!recorded) return { step: 0 };
    this.last = recorded;
    if (recorded.toolCalls.length === 0) return { end: await this.finish('completed') };
    if (!(await this.deps.turns.transcript.hasToolResults(this.turnId, recorded.step))) {
      const trace = this.trace.step(recorded.step);
      try {
        const end = await this.runCalls(recorded.step, await this.toolsNow(), trace);
        if (end) return { end };
      } finally {
        trace.end();
      }
    }
    return { step: recorded.step };
  }

  /** The tools the session may use now, but those policy denies: asked at every step, so it sees integrations change. */
  private async toolsNow(): Promise<Map<string, ToolDefinition>> {
    const [tools, policy] = await Promise.all([this.deps.toolsFor(this.session.user_id, this.session.tools), this.policyNow()]);
    // Every session may keep facts: it reaches nothing outside the session.
    tools.set(rememberToolName, this.context.rememberTool());
    return policy.offered(tools);
  }

  private policyNow(): Promise<SessionApprovalPolicy> {
    this.policy ??= this.deps.approvals.policyFor(this.session);
    return this.policy;
  }

  /**
   * Between steps: renews the lease and hears what happened meanwhile. Returns the turn's end when
   * it must stop here (a cancel, or a session no longer running); throws on shutdown.
   */
  private async boundary(): Promise<TurnOutcome | undefined> {
    // The last step's write renewed the lease and read this under the session's lock just now: asking
    // again tells nothing newer. The heartbeat and the next fenced write hear what comes later.
    const state = this.renewed ?? (await this.deps.turns.renew(this));
    this.renewed = undefined;
    if (state.cancelRequested) this.stopper.abort(stopReasons.cancel);
    if (this.stopper.signal.aborted) throw this.stopper.signal.reason;
    if (this.shutdown.signal.aborted) throw this.shutdown.signal.reason;
    if (state.sessionStatus === 'completed') return this.finish('completed');
    if (state.sessionStatus !== 'running')
      return this.finish('cancelled', { error: { code: 'SESSION_NOT_RUNNING', message: `The session became ${state.sessionStatus}.` } });
    return undefined;
  }

  /**
   * The rest of a step whose answer is recorded: its calls, then their results. Returns the turn's
   * end when the step ends it (a call whose outcome is unknown, or the agent completing the session).
   * `answered`: the calls as a new answer's write returned them, and those folded into the step's
   * writes; without it (a resumed step) they are read from the ledger and each begun on its own.
   */
  private async runCalls(
    step: number,
    tools: ReadonlyMap<string, ToolDefinition>,
    trace: StepTrace,
    answered?: { recorded: readonly LedgerEntry[]; folded: ReadonlySet<number> },
  ): Promise<TurnOutcome | undefined> {
    const { turns, reach, approvals } = this.deps;
    const policy = await this.policyNow();
    const ask = async (entries: readonly LedgerEntry[]) => {
      const asked = approvals.toAsk(entries, policy, tools);
      if (asked.length === 0) return asked;
      const schemas = new Map(asked.map((e) => [e.tool, tools.get(e.tool)?.inputSchema]));
      await turns.approvals.request(this, { entries: asked, schemas, expiresInMs: approvals.timeoutMs });
      return asked;
    };
    let ran = await runStepCalls({ turn: this, step, tools, turns, reach, trace, ask, ...answered });
    // Calls awaiting approval: the turn waits, holding nothing, unless they were decided meanwhile.
    while ('awaiting' in ran && ran.awaiting) {
      const state = await turns.approvals.wait(this);
      if (state === 'waiting') return { turnId: this.turnId, status: 'awaiting_approval', message: this.last };
      if (state === 'stopped')
        return this.finish('cancelled', { error: { code: 'SESSION_NOT_RUNNING', message: 'The session stopped running.' } });
      ran = await runStepCalls({ turn: this, step, tools, turns, reach, trace });
    }
    if ('unknown' in ran) return this.suspend(ran.unknown);
    const complete = ran.results.some((r) => r.entry.tool === completeSessionToolName && !r.isError);
    const { messages, ...state } = await turns.steps.recordToolResults(this, { step, results: ran.results, complete });
    this.renewed = state;
    this.history.written(messages);
    reach('after-checkpoint');
    return complete ? this.finish('completed') : undefined;
  }

  /**
   * A call that may have had its effect, of a tool that must not run twice: the turn waits,
   * holding nothing, and the session pauses with TOOL_OUTCOME_UNKNOWN until the user resolves it.
   */
  private async suspend(entry: LedgerEntry): Promise<TurnOutcome> {
    const error: ReportedError = {
      code: 'TOOL_OUTCOME_UNKNOWN',
      message: `The call of ${entry.tool} (${entry.idempotency_key}) was interrupted and may or may not have had its effect; retry it, skip it or fail the session.`,
    };
    // A session the user paused, completed or failed meanwhile has no use for the turn: it ends.
    if (!(await this.deps.turns.suspend(this, error))) return this.finish('cancelled', { error });
    return { turnId: this.turnId, status: 'suspended', message: this.last, error };
  }

  /**
   * How the loop left the turn when something was thrown: a lost lease or a shutdown lets it go
   * (another execution resumes it), a database out of reach leaves it for recovery, and anything
   * else ends it, with the model call it interrupted (if any).
   */
  private async leave(thrown: unknown): Promise<TurnOutcome> {
    const { turnId } = this;
    const interrupted = thrown instanceof InterruptedModelCall ? thrown : undefined;
    const error = toDatabaseError(interrupted ? interrupted.cause : thrown);
    const letGo: TurnOutcome = { turnId, status: 'running', message: this.last };
    if (this.stopper.signal.reason === stopReasons.leaseLost || error instanceof LeaseLost) return letGo;
    if (this.stopper.signal.reason === stopReasons.cancel) return this.finish('cancelled', { interrupted });
    if (this.shutdown.signal.aborted) {
      // Shutdown: what finished is recorded; the lease goes so another instance resumes at once.
      try {
        if (interrupted)
          await this.deps.turns.steps.recordModelCall(this, {
            ...interrupted,
            error: { code: 'SHUTDOWN', message: 'The instance shut down during the model call.' },
          });
        await this.deps.turns.release(this);
      } catch (failure) {
        this.deps.onError(failure, `could not release turn ${turnId}`);
      }
      return letGo;
    }
    if (isAppError(error) && (error.code === 'DATABASE_UNAVAILABLE' || error.code === 'DATABASE_BUSY')) {
      // Nothing more can be recorded here: the lease is given up as soon as the database answers
      // (or lapses), and an instance (this one too) resumes the turn from what was recorded.
      this.deps.onError(error, `turn ${turnId} left for recovery`);
      this.deps.releaseWhenReachable(this);
      return letGo;
    }
    if (isAppError(error) && error.code === 'SESSION_NOT_RUNNING')
      return this.finish('cancelled', { error: { code: error.code, message: error.message }, interrupted });
    const appError = isAppError(error) ? error : new AppError('INTERNAL', { cause: error });
    if (!isAppError(error)) this.deps.onError(error, `turn ${turnId} failed`);
    return this.finish('failed', { error: { code: appError.code, message: appError.message }, interrupted });
  }

  /**
   * Records how the turn ended (see TurnStore.end). If even this cannot be written (the session
   * was deleted meanwhile), it is logged, and the outcome is still returned.
   */
  private async finish(
    status: EndStatus,
    options: { error?: ReportedError | undefined; interrupted?: InterruptedModelCall | undefined } = {},
  ): Promise<TurnOutcome> {
    const { error } = options;
    let message = this.last;
    try {
      message = await this.deps.turns.end(this, { status, last: this.last, error, interrupted: options.interrupted });
    } catch (failure) {
      this.deps.onError(failure, `could not record the end of turn ${this.turnId}`);
    }
    return { turnId: this.turnId, status, message, error };
  }
}
