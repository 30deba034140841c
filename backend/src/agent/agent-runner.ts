import { AppError, isAppError } from '../errors.ts';
import type { FaultInjector } from '../fault-injection.ts';
import type { TurnTracer } from '../observability/index.ts';
import type { ContextWindows, LanguageModels } from '../providers/index.ts';
import type {
  ApprovalRow,
  MessageView,
  SessionRow,
  SessionService,
  ToolDecision,
  TurnRow,
  TurnStore,
  TurnTimeline,
} from '../sessions/index.ts';
import type { PromptUser } from '../templates/index.ts';
import type { ToolsFor } from '../tools/index.ts';
import { ApprovalGate, type ApprovalSettings } from './approval-gate.ts';
import { applyEdit } from './approval-edit.ts';
import { SpendLimit } from './spend-limit.ts';
import { TurnExecution, type TurnExecutionDeps, type TurnOutcome, type TurnStart } from './turn-execution.ts';
import { TurnRecovery } from './turn-recovery.ts';

export interface AgentRunnerDeps {
  sessions: SessionService;
  /** The turns of those sessions: the one port the loop writes and reads them through. */
  turns: TurnStore;
  models: LanguageModels;
  /**
   * The tools a session may use now, by its tool names and patterns. Asked at every step, so a
   * running session sees integrations connected, disconnected or changed since the last one.
   */
  toolsFor: ToolsFor;
  /** Model calls per turn before it ends with `step_limit`. */
  maxSteps: number;
  /** Spend per user per calendar month (UTC) past which new messages are refused; none when undefined. */
  spendLimitMonthlyUsd?: number | undefined;
  /**
   * `exclusive`: no other instance can reach this database (the embedded one, whose directory
   * this process locked), so at start every running turn is a crashed one and resumes at once.
   */
  leases: { recoveryIntervalMs: number; maxRecoveries: number; exclusive?: boolean };
  /** Crash tests' named kill points (off unless configured). */
  reach: FaultInjector;
  /** Where a turn's unexpected failure is logged (once; the turn records its code). */
  onError: (error: unknown, context: string) => void;
  /** Spans of every turn (no-ops when tracing is off). */
  tracer: TurnTracer;
  /** Each model's context window, which every step's history is fitted to. */
  contextWindows: ContextWindows;
  /** The administrator's approval rules and how long a call waits for a person. */
  approvals: ApprovalSettings;
}

/** A person's decision on a call awaiting approval, as a client sends it. */
export interface ApprovalDecisionInput {
  action: 'approve' | 'deny';
  /** Approve with these arguments (as shown: redacted values sent back unchanged keep the originals). */
  arguments?: unknown;
  /** Deny: what the model reads as the call's result. */
  note?: string | undefined;
  /** Approve, and always allow this tool for this agent from now on. */
  always?: boolean | undefined;
}

/**
 * Runs turns durably. A turn is a user message, then steps of one model call plus the tool calls
 * it asks for, until the model answers without tools, the agent completes the session, or the
 * step limit. What a step records (through the turn store, sessions/turn-store.ts):
 *
 * 1. The model's answer, its model-call record and its tool calls in the ledger (`pending`), in
 *    one transaction, with the session's counters (and the checkpoint, when it asks for no tools).
 * 2. Each call: `started` with its `tool.started` event, the tool runs with its idempotency key,
 *    then its result in the ledger.
 * 3. The tool results as messages, the session's counters, the checkpoint and the tool events, in
 *    one transaction.
 *
 * While a turn executes, one execution (turn-execution.ts) leases it; every write above is fenced
 * by the lease. If an instance dies, its leases expire and any instance resumes the turn from what
 * was recorded (turn-recovery.ts): recorded answers are not asked for again, completed calls are
 * not run again, a call that may have begun runs again only if its tool is idempotent, and
 * otherwise the session pauses with TOOL_OUTCOME_UNKNOWN until the user resolves it.
 *
 * One unfinished turn per session, across instances (a unique index): a message sent while one
 * runs is refused with 409 SESSION_BUSY, and the client sends it again when it ends.
 */
export class AgentRunner {
  /** The executions on this instance, by session. */
  private readonly executions = new Map<string, TurnExecution>();
  private readonly recovery: TurnRecovery;
  private readonly spend: SpendLimit;
  private readonly executionDeps: TurnExecutionDeps;
  private readonly gate: ApprovalGate;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: AgentRunnerDeps) {
    const { turns, leases, onError } = deps;
    this.recovery = new TurnRecovery({ turns, leases, onError, resume: (start) => void this.execute({ ...start, resumed: true }) });
    this.spend = new SpendLimit({
      limitUsd: deps.spendLimitMonthlyUsd,
      spentThisMonth: (userId) => turns.transcript.spentThisMonth(userId),
    });
    this.gate = new ApprovalGate(turns, deps.approvals);
    this.executionDeps = {
      ...deps,
      sessionContext: deps.sessions.context,
      approvals: this.gate,
      leaseTtlMs: turns.leaseTtlMs,
      releaseWhenReachable: (turn) => void this.recovery.releaseWhenReachable(turn),
    };
  }

  /** Resumes turns left by instances that died (at once, then periodically). */
  async start(): Promise<void> {
    await this.recovery.start();
    if (this.deps.approvals.timeoutMs > 0) {
      const every = Math.min(this.deps.leases.recoveryIntervalMs, Math.max(100, this.deps.approvals.timeoutMs / 4));
      this.expiryTimer = setInterval(() => void this.expireApprovals(), every);
      this.expiryTimer.unref();
    }
  }

  /** Denies, as expired, calls whose wait for approval is over, and resumes their turns here. */
  async expireApprovals(): Promise<void> {
    try {
      for (const resumed of await this.deps.turns.approvals.expire(50)) this.resumeDecided(resumed);
    } catch (error) {
      this.deps.onError(error, 'could not expire approvals');
    }
  }

  /**
   * A person's decision on a call of their session awaiting approval: approve (maybe with edited
   * arguments, checked against the tool's input schema; maybe always, saving their rule) or deny
   * with a note. The decision that leaves no call of the turn waiting resumes it here.
   */
  async decide(userId: string, sessionId: string, callId: string, input: ApprovalDecisionInput, ip?: string | null): Promise<ApprovalRow> {
    const { approvals } = this.deps.turns;
    let verdict: Parameters<typeof approvals.decide>[0]['verdict'];
    if (input.action === 'deny') verdict = { outcome: 'denied', note: input.note };
    else if (input.arguments === undefined) verdict = { outcome: 'approved', edited: false };
    else {
      const asked = await approvals.get(userId, sessionId, callId);
      const edit = applyEdit(asked.input, input.arguments);
      if (edit.edited) {
        const session = await this.deps.turns.session(sessionId);
        const tool = session && (await this.deps.toolsFor(userId, session.tools)).get(asked.tool);
        if (!tool) throw new AppError('CONFLICT', `The tool ${asked.tool} is no longer offered to this session.`);
        try {
          tool.parse(edit.input);
        } catch (error) {
          throw new AppError(
            'VALIDATION_FAILED',
            `The edited arguments do not fit the tool's input: ${(error as Error).message.slice(0, 500)}`,
          );
        }
      }
      verdict = { outcome: 'approved', input: edit.input, edited: edit.edited };
    }
    const { approval, resumed } = await approvals.decide({ userId, sessionId, callId, verdict, always: input.always, ip });
    if (resumed) this.resumeDecided(resumed);
    return approval;
  }

  /** Executes here a turn a decision (or an expiry) handed to a new lease. */
  private resumeDecided(resumed: { turn: TurnRow; token: string }): void {
    void this.deps.turns.session(resumed.turn.session_id).then(
      (session) => {
        if (session) void this.execute({ session, turn: resumed.turn, token: resumed.token, resumed: true });
      },
      (error: unknown) => this.deps.onError(error, `could not resume turn ${resumed.turn.id}`),
    );
  }

  /**
   * Stores the user's message and starts the turn; `done` settles when the turn ends. The first
   * message of a conversation that has no session yet starts one with the user's default agent.
   * A conversation's session never changes once it has one: once this instance created or read
   * it, the turn opens at once, without reading the session first (the opening returns its row);
   * if it cannot (the session stopped running or is gone), the read says why.
   */
  async send(
    user: PromptUser,
    conversationId: string,
    content: string,
  ): Promise<{ turnId: string; messageId: string; done: Promise<TurnOutcome> }> {
    const known = this.deps.sessions.knownSessionOf(conversationId);
    if (known?.user_id === user.id) {
      await this.spend.check(user.id);
      const opened = await this.open(user, known, conversationId, content).catch((error: unknown) => {
        if (isAppError(error) && error.code === 'SESSION_NOT_RUNNING') return undefined;
        throw error;
      });
      if (opened) return opened;
    }
    const attached = await this.deps.sessions.sessionOfConversation(user.id, conversationId);
    // Before anything is written: a user over the spend limit starts no session either.
    await this.spend.check(user.id);
    const session = attached ?? (await this.deps.turns.session(await this.startSession(user, conversationId)));
    if (!session) throw new AppError('SESSION_NOT_FOUND');
    if (session.status !== 'running')
      throw new AppError(
        'SESSION_NOT_RUNNING',
        `The session is ${session.status}${session.status === 'paused' ? ': resume it first' : ''}.`,
      );
    return this.open(user, session, conversationId, content);
  }

  /** Opens the turn in `session` (SESSION_NOT_RUNNING if it is not) and starts executing it. */
  private async open(
    user: PromptUser,
    session: Pick<SessionRow, 'id' | 'user_id' | 'agent_id'>,
    conversationId: string,
    content: string,
  ): Promise<{ turnId: string; messageId: string; done: Promise<TurnOutcome> }> {
    // The approval policy the turn's first step needs, read while the turn opens: two round trips at once.
    const policy = this.gate.policyFor(session);
    policy.catch(() => undefined); // a turn that does not open never asks for it
    const opened = await this.deps.turns.open({ userId: user.id, session, conversationId, content }).catch(async (error: unknown) => {
      if (isAppError(error) && error.code === 'SESSION_BUSY' && (await this.deps.turns.approvals.waiting(session.id)))
        throw new AppError('APPROVAL_PENDING');
      throw error;
    });
    const { turn, token, message } = opened;
    // The session's first message: its conversation holds nothing else, so the turn need not read it.
    const conversation = opened.session.message_count === 1 ? [message] : undefined;
    const done = this.execute({ session: opened.session, turn, token, resumed: false, policy, conversation });
    return { turnId: turn.id, messageId: message.id, done };
  }

  /**
   * Stops the session's unfinished turn, wherever it runs: it ends `cancelled` and the session
   * stays usable. A turn another instance executes is asked to stop (it does at its next
   * heartbeat or step) and awaited; a turn awaiting a decision on a tool call just ends.
   */
  async cancel(sessionId: string): Promise<boolean> {
    const { unattended } = this.deps.turns;
    // Recorded first, so the cancel holds even if this instance cannot record the turn's end.
    const running = await unattended.requestCancel(sessionId);
    const local = this.executions.get(sessionId);
    if (local) {
      local.cancel();
      await local.done;
      return true;
    }
    // Another instance runs it: it stops at its next heartbeat or step. Say whether it has.
    if (running) return unattended.awaitEnd(running, 10_000);
    if (await unattended.cancelSuspended(sessionId)) return true;
    const session = await this.deps.turns.session(sessionId);
    return session ? this.deps.turns.approvals.cancelWaiting(session) : false;
  }

  /**
   * The user's decision on a tool call whose outcome is unknown after a crash: `retry` runs it
   * again, `skip` gives the model a note instead of its result, and both resume the turn; `fail`
   * fails the session.
   */
  async resolve(userId: string, sessionId: string, decision: ToolDecision): Promise<void> {
    const resumed = await this.deps.turns.unattended.resolve(userId, sessionId, decision);
    if (!resumed) return;
    const session = await this.deps.turns.session(sessionId);
    if (session) void this.execute({ session, turn: resumed.turn, token: resumed.token, resumed: true });
  }

  /**
   * Lets every turn of this instance go: model calls stop, a running tool finishes and is
   * recorded, and each lease is released so another instance resumes the turn at once.
   */
  async stop(): Promise<void> {
    clearInterval(this.expiryTimer);
    await this.recovery.stop();
    const running = [...this.executions.values()];
    for (const execution of running) execution.letGo();
    await Promise.all(running.map((execution) => execution.done));
  }

  /** A conversation's messages in order, after `after` (a message's `seq`), with tool calls and usage. */
  async messages(
    userId: string,
    conversationId: string,
    page: { limit: number; after?: number | undefined },
  ): Promise<{ messages: MessageView[]; next: number | null }> {
    return this.deps.turns.transcript.page(userId, conversationId, page);
  }

  /** Where the turn's time and money went: its model calls and tool calls on a time axis. */
  async timeline(userId: string, turnId: string): Promise<TurnTimeline> {
    return this.deps.turns.transcript.timeline(userId, turnId);
  }

  /** The session's newest answer with text, if it has one (none for a session the user does not own). */
  async latestAnswer(userId: string, sessionId: string): Promise<MessageView | undefined> {
    return this.deps.turns.transcript.latestAnswer(userId, sessionId);
  }

  /** Starts a default-agent session for a conversation of its own; of two first messages at once, both use the one that won. */
  private async startSession(user: PromptUser, conversationId: string): Promise<string> {
    try {
      return (await this.deps.sessions.create(user, { conversationId })).session.id;
    } catch (error) {
      if (!isAppError(error) || error.code !== 'CONVERSATION_IN_USE') throw error;
      return (await this.deps.sessions.sessionOfConversation(user.id, conversationId))!.id;
    }
  }

  /** Runs the turn here, as the session's one execution on this instance. */
  private execute(start: TurnStart): Promise<TurnOutcome> {
    const execution = new TurnExecution(this.executionDeps, start);
    this.executions.set(start.session.id, execution);
    return execution.done.finally(() => {
      if (this.executions.get(start.session.id) === execution) this.executions.delete(start.session.id);
    });
  }
}
