import { sql, type Selectable } from 'kysely';
import { decodeCursor, encodeCursor, isUuid, type AgentSessionsTable, type CheckpointReason, type Executor, type PostgresDatabase, type SessionStatus } from '../database/index.ts';
import { AppError, type ReportedError } from '../errors.ts';
import type { AgentryEvent, EventBus } from '../events/index.ts';
import { completeSessionToolName, type PromptUser, type TemplateService } from '../templates/index.ts';
import { everyIntegrationTool, providerOfTool, providerToolsPattern, toolPatternCovers } from '../tools/index.ts';
import type { AgentService, AgentView } from './agent-service.ts';
import { sanitizeContext, type DroppedContext } from './context-sanitizer.ts';
import { endTurn } from './turn-end.ts';
import { assertTransition, systemEdge, type SystemCause } from './session-status.ts';

type SessionRow = Selectable<AgentSessionsTable>;

export interface SessionView {
  id: string;
  status: SessionStatus;
  agentId: string | null;
  templateId: string | null;
  templateVersion: number | null;
  model: string;
  tools: string[];
  /** The template's first user message, rendered, for a client that starts the run without one of its own. */
  userPrompt: string | null;
  context: unknown;
  variables: unknown;
  /** The session's first conversation. */
  conversationId: string | null;
  counters: { messages: number; toolCalls: number; errors: number; inputTokens: number; outputTokens: number; costUsd: number };
  lastError: unknown;
  version: number;
  startedAt: string;
  lastActiveAt: string;
  completedAt: string | null;
}

export interface CheckpointView {
  id: string;
  seq: number;
  reason: CheckpointReason;
  name: string | null;
  step: number;
  createdAt: string;
}

export interface ConversationView {
  id: string;
  /** Null until the conversation's first message (or a new session) takes it. */
  sessionId: string | null;
  title: string;
  createdAt: string;
}

/** How often a session called one tool, and how many of those calls failed or were refused. */
export interface ToolUse {
  tool: string;
  calls: number;
  errors: number;
}

export interface NewSession {
  agentId?: string | undefined;
  templateId?: string | undefined;
  templateVersion?: number | undefined;
  variables?: Record<string, unknown> | undefined;
  context?: Record<string, unknown> | undefined;
  conversationId?: string | undefined;
}

/** What one step of a turn adds to its session's counters. */
export interface StepCounts {
  messages: number;
  toolCalls: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface SessionListQuery {
  status?: SessionStatus | undefined;
  agentId?: string | undefined;
  templateId?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface SessionServiceDeps {
  database: PostgresDatabase;
  bus: EventBus;
  agents: AgentService;
  templates: TemplateService;
  knowledgeBaseAvailable: () => Promise<boolean>;
  defaultModel: () => string;
  /** Throws 400 UNKNOWN_MODEL for a model id no provider serves. */
  checkModel: (id: string) => void;
  /** Unnamed checkpoints kept per session; named ones are always kept. */
  checkpointRetention: number;
  /** The administrator's custom tools, offered to sessions that run no template. */
  customTools: readonly string[];
}

const defaultInstructions = 'You are a helpful assistant. Be accurate and brief, and say so when you do not know.';
/** The topic a session's events go out on; its owner may subscribe. */
export const sessionTopic = (sessionId: string) => `session:${sessionId}`;

/**
 * Sessions: created from an agent and/or a template, with the template's prompt rendered once and
 * kept, so the session runs the version it started with. Every change is one transaction with its
 * checkpoint and its events; writers race through an optimistic lock (`version`), and the loser
 * is told (409 SESSION_LOCKED) rather than overwriting.
 */
export class SessionService {
  constructor(private readonly deps: SessionServiceDeps) {}

  async create(user: PromptUser, input: NewSession): Promise<{ session: SessionView; dropped: DroppedContext[] }> {
    const agent = input.agentId ? await this.deps.agents.get(user.id, input.agentId) : await this.deps.agents.defaultAgent(user.id);
    const setup = await this.setup(user, agent, input);
    const { context, dropped } = sanitizeContext(input.context ?? {});
    const session = await this.deps.database.transaction(async (tx) => {
      const row = await tx
        .insertInto('agent_sessions')
        .values({ user_id: user.id, agent_id: agent.id, status: 'running', context: context as never, ...setup })
        .returningAll()
        .executeTakeFirstOrThrow();
      const conversationId = await this.attachConversation(tx, user.id, row.id, input.conversationId);
      await this.checkpoint(tx, row, 'created', { events: [{ type: 'session.status_changed', data: { sessionId: row.id, from: null, to: 'running' } }] });
      return toView(row, conversationId);
    });
    return { session, dropped };
  }

  /**
   * A session with its checkpoints summary, the tools it has used (calls and failures each), and
   * its unfinished turn: `running`, or `suspended` until the user decides on a tool call whose
   * outcome a crash left unknown. A client that opens the session learns from it whether to wait.
   */
  async get(
    userId: string,
    id: string,
  ): Promise<SessionView & { checkpoints: { count: number; latest: CheckpointView | null }; toolsUsed: ToolUse[]; activeTurn: { id: string; status: 'running' | 'suspended' } | null }> {
    const row = await this.row(this.deps.database.db, userId, id);
    const { db } = this.deps.database;
    const [conversationId, count, latest, toolsUsed, activeTurn] = await Promise.all([
      firstConversation(db, id),
      db.selectFrom('session_checkpoints').select((eb) => eb.fn.countAll<string>().as('n')).where('session_id', '=', id).executeTakeFirstOrThrow(),
      db.selectFrom('session_checkpoints').selectAll().where('session_id', '=', id).orderBy('seq', 'desc').limit(1).executeTakeFirst(),
      db
        .selectFrom('messages')
        .select(['tool_name', (eb) => eb.fn.countAll<string>().as('calls'), (eb) => eb.fn.countAll<string>().filterWhere('is_error', '=', true).as('errors')])
        .where('session_id', '=', id)
        .where('role', '=', 'tool')
        .groupBy('tool_name')
        .orderBy('tool_name')
        .execute(),
      db.selectFrom('turns').select(['id', 'status']).where('session_id', '=', id).where('status', 'in', ['running', 'suspended']).executeTakeFirst(),
    ]);
    return {
      ...toView(row, conversationId),
      checkpoints: { count: Number(count.n), latest: latest ? toCheckpointView(latest) : null },
      toolsUsed: toolsUsed.map((t) => ({ tool: t.tool_name ?? '', calls: Number(t.calls), errors: Number(t.errors) })),
      activeTurn: activeTurn ? { id: activeTurn.id, status: activeTurn.status as 'running' | 'suspended' } : null,
    };
  }

  /** The user's sessions, most recently active first, a page at a time. */
  async list(userId: string, query: SessionListQuery): Promise<{ sessions: SessionView[]; nextCursor: string | null }> {
    let select = this.deps.database.db
      .selectFrom('agent_sessions as s')
      .selectAll('s')
      .select((eb) =>
        eb
          .selectFrom('conversations as c')
          .select('c.id')
          .whereRef('c.session_id', '=', 's.id')
          .orderBy('c.created_at')
          .orderBy('c.id')
          .limit(1)
          .as('conversation_id'),
      )
      .where('s.user_id', '=', userId);
    if (query.status) select = select.where('s.status', '=', query.status);
    if (query.agentId) select = select.where('s.agent_id', '=', query.agentId);
    if (query.templateId) select = select.where('s.template_id', '=', query.templateId);
    const activeMs = sql<Date>`date_trunc('milliseconds', s.last_active_at)`;
    if (query.cursor) {
      const [at, id] = decodeCursor(query.cursor);
      select = select.where((eb) => eb.or([eb(activeMs, '<', at), eb.and([eb(activeMs, '=', at), eb('s.id', '<', id)])]));
    }
    const rows = await select.orderBy(activeMs, 'desc').orderBy('s.id', 'desc').limit(query.limit + 1).execute();
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      sessions: page.map((row) => toView(row, row.conversation_id)),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last.last_active_at, last.id) : null,
    };
  }

  /**
   * Pauses, resumes, completes or fails a session, with a checkpoint (named when asked). Of two
   * requests racing on one session, the second answers 409 SESSION_LOCKED.
   */
  async changeStatus(userId: string, id: string, to: SessionStatus, checkpoint: { name?: string | undefined } = {}): Promise<SessionView> {
    const current = await this.row(this.deps.database.db, userId, id);
    assertTransition(current.status, to, 'user');
    return this.deps.database.transaction(async (tx) => {
      const row = await tx
        .updateTable('agent_sessions')
        .set({
          status: to,
          version: sql`version + 1`,
          last_active_at: sql`now()`,
          completed_at: to === 'completed' ? sql`now()` : null,
        })
        .where('id', '=', id)
        .where('version', '=', current.version)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw new AppError('SESSION_LOCKED');
      const events: AgentryEvent[] = [{ type: 'session.status_changed', data: { sessionId: id, from: current.status, to } }];
      // A turn awaiting a decision on a tool call: resuming needs the decision; finishing the session drops the turn.
      const suspended = await tx.selectFrom('turns').select('id').where('session_id', '=', id).where('status', '=', 'suspended').executeTakeFirst();
      if (suspended && to === 'running') {
        throw new AppError('TOOL_OUTCOME_UNKNOWN', 'A tool call of this session may or may not have run: decide with POST /v1/sessions/:id/resolve (retry, skip or fail) before resuming.');
      }
      if (suspended && (to === 'completed' || to === 'failed')) {
        const ended = await endTurn(tx, suspended.id, { status: 'suspended' }, { status: 'cancelled' });
        if (ended) events.push(ended);
      }
      await this.checkpoint(tx, row, 'status', { name: checkpoint.name, events });
      return toView(row, await firstConversation(tx, id));
    });
  }

  /**
   * Adds a step's counts to the session, checkpoints it and publishes the step's events, last,
   * inside the step's own transaction (the agent loop's), so messages, counters, checkpoint and
   * events commit together. Unless told otherwise, refused with SESSION_NOT_RUNNING once the
   * session was paused, completed, failed or deleted: the step rolls back and the turn ends there.
   * (Tool results are recorded whatever the status: the calls ran.) With `complete`, the step is
   * the session's last: the agent finished the template's steps.
   */
  async recordStep(
    tx: Executor,
    sessionId: string,
    step: number,
    counts: StepCounts,
    options: { checkpoint?: boolean; complete?: boolean; requireRunning?: boolean; events?: AgentryEvent[] } = {},
  ): Promise<void> {
    const completes = options.complete === true;
    // Only a session still on the edge completes; one the user paused or ended keeps its status.
    const finished = systemEdge('steps-finished');
    const onEdge = sql`agent_sessions.status in (${sql.join(finished.from)})`;
    const row = await this.update(
      tx,
      sessionId,
      {
        message_count: sql`message_count + ${counts.messages}`,
        tool_call_count: sql`tool_call_count + ${counts.toolCalls}`,
        error_count: sql`error_count + ${counts.errors}`,
        input_tokens: sql`input_tokens + ${counts.inputTokens}`,
        output_tokens: sql`output_tokens + ${counts.outputTokens}`,
        cost_usd: sql`cost_usd + ${counts.costUsd}`,
        ...(completes ? { status: sql`case when ${onEdge} then ${finished.to} else agent_sessions.status end`, completed_at: sql`case when ${onEdge} then now() else completed_at end` } : {}),
      },
      options.requireRunning === false ? undefined : ['running'],
    );
    if (!row) throw new AppError('SESSION_NOT_RUNNING', 'The session stopped running during the turn.');
    const events = [...(options.events ?? [])];
    const justCompleted = completes && finished.from.includes(row.previous_status);
    if (justCompleted) events.push({ type: 'session.status_changed', data: { sessionId, from: row.previous_status, to: finished.to, reason: "the agent finished the template's steps" } });
    if (options.checkpoint === false) await this.deps.bus.publish(tx, ...events.map((event) => ({ userId: row.user_id, topic: sessionTopic(sessionId), event })));
    else await this.checkpoint(tx, row, justCompleted ? 'status' : 'step', { step, events });
  }

  /**
   * Moves the session along the system edges of `cause` (a tool outcome to decide, a turn that
   * could not be recovered, a decision made), with a checkpoint and the event giving the reason;
   * `error` becomes its last error. Returns false when the session was in none of the statuses
   * the cause may leave (the table in session-status.ts says which).
   */
  async transition(tx: Executor, sessionId: string, cause: SystemCause, change: { reason: string; error?: ReportedError }): Promise<boolean> {
    const { from, to } = systemEdge(cause);
    const row = await this.update(
      tx,
      sessionId,
      {
        status: to,
        completed_at: to === 'completed' ? sql`now()` : null,
        ...(change.error ? { last_error: change.error as never, error_count: sql`error_count + 1` } : {}),
      },
      from,
    );
    if (!row) return false;
    await this.checkpoint(tx, row, 'status', { events: [{ type: 'session.status_changed', data: { sessionId, from: row.previous_status, to, reason: change.reason } }] });
    return true;
  }

  /** Updates the session row (bumping its version and activity), returning it with the status it had. */
  private async update(tx: Executor, sessionId: string, set: Record<string, unknown>, onlyFrom?: SessionStatus[]) {
    let update = tx
      .with('previous', (db) => db.selectFrom('agent_sessions').select('status as previous_status').where('id', '=', sessionId).forNoKeyUpdate())
      .updateTable('agent_sessions')
      .from('previous')
      .set({ ...set, version: sql`version + 1`, last_active_at: sql`now()` } as never)
      .where('agent_sessions.id', '=', sessionId);
    if (onlyFrom) update = update.where('previous.previous_status', 'in', onlyFrom);
    return update.returningAll('agent_sessions').returning('previous.previous_status').executeTakeFirst();
  }

  /**
   * What a turn's end adds to its session, whatever the session's status now (and nothing if it
   * is gone): the message a cancelled model call had written, and a failed turn's error.
   */
  async recordTurnEnd(tx: Executor, sessionId: string, end: { messages: number; error: ReportedError | undefined }): Promise<void> {
    if (end.messages === 0 && !end.error) return;
    await tx
      .updateTable('agent_sessions')
      .set({
        message_count: sql`message_count + ${end.messages}`,
        ...(end.error ? { error_count: sql`error_count + 1`, last_error: end.error as never } : {}),
        last_active_at: sql`now()`,
        version: sql`version + 1`,
      })
      .where('id', '=', sessionId)
      .execute();
  }

  /**
   * Continues the session from a checkpoint: messages after it are removed (the turns that wrote
   * them too), its context and counts come back, and the session is running again. Tokens and
   * cost stay: they were spent. The caller makes sure no turn is running.
   */
  async restore(userId: string, id: string, checkpointId: string): Promise<SessionView> {
    const current = await this.row(this.deps.database.db, userId, id);
    // The update below is guarded by the version, so the status read here is the one it leaves.
    const restored = systemEdge('restore');
    if (current.status !== restored.to) assertTransition(current.status, restored.to, 'system');
    return this.deps.database.transaction(async (tx) => {
      const unfinished = await tx.selectFrom('turns').select('status').where('session_id', '=', id).where('status', 'in', ['running', 'suspended']).executeTakeFirst();
      if (unfinished?.status === 'running') throw new AppError('SESSION_BUSY', 'A turn is running in this session: cancel it before restoring.');
      if (unfinished) throw new AppError('TOOL_OUTCOME_UNKNOWN', 'A tool call of this session may or may not have run: resolve it before restoring.');
      const checkpoint = await tx.selectFrom('session_checkpoints').selectAll().where('id', '=', checkpointId).where('session_id', '=', id).executeTakeFirst();
      if (!checkpoint) throw new AppError('CHECKPOINT_NOT_FOUND');
      const state = checkpoint.state as { context: unknown; counters: { messages: number; toolCalls: number; errors: number } };
      const row = await tx
        .updateTable('agent_sessions')
        .set({
          status: 'running',
          context: JSON.stringify(state.context ?? {}),
          message_count: state.counters.messages,
          tool_call_count: state.counters.toolCalls,
          error_count: state.counters.errors,
          completed_at: null,
          version: sql`version + 1`,
          last_active_at: sql`now()`,
        })
        .where('id', '=', id)
        .where('version', '=', current.version)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw new AppError('SESSION_LOCKED');
      await tx.deleteFrom('messages').where('session_id', '=', id).where('seq', '>', checkpoint.message_seq as never).execute();
      await tx
        .deleteFrom('turns')
        .where('session_id', '=', id)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('messages').select('messages.id').whereRef('messages.turn_id', '=', 'turns.id'))))
        .execute();
      const events: AgentryEvent[] =
        current.status === 'running' ? [] : [{ type: 'session.status_changed', data: { sessionId: id, from: current.status, to: 'running', reason: `restored to checkpoint ${checkpoint.seq}` } }];
      await this.checkpoint(tx, row, 'restore', { step: checkpoint.step, events });
      return toView(row, await firstConversation(tx, id));
    });
  }

  /** Takes a checkpoint on request, optionally named (named ones outlive retention). */
  async takeCheckpoint(userId: string, id: string, name?: string): Promise<CheckpointView> {
    return this.deps.database.transaction(async (tx) => {
      const row = await tx.selectFrom('agent_sessions').selectAll().where('id', '=', id).where('user_id', '=', userId).forUpdate().executeTakeFirst();
      if (!row) throw new AppError('SESSION_NOT_FOUND');
      return this.checkpoint(tx, row, 'manual', { name });
    });
  }

  async checkpoints(userId: string, id: string): Promise<CheckpointView[]> {
    await this.row(this.deps.database.db, userId, id);
    const rows = await this.deps.database.db.selectFrom('session_checkpoints').selectAll().where('session_id', '=', id).orderBy('seq', 'desc').execute();
    return rows.map(toCheckpointView);
  }

  async delete(userId: string, id: string): Promise<void> {
    const result = await this.deps.database.db.deleteFrom('agent_sessions').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    if (result.numDeletedRows === 0n) throw new AppError('SESSION_NOT_FOUND');
  }

  /**
   * Adds a conversation to one of the user's sessions, or (with no session) starts one of its
   * own: its first message starts a session with the default agent, or it is given to a new
   * session as `conversationId`.
   */
  async addConversation(userId: string, sessionId: string | null, title = ''): Promise<ConversationView> {
    if (sessionId) await this.row(this.deps.database.db, userId, sessionId);
    const row = await this.deps.database.db
      .insertInto('conversations')
      .values({ user_id: userId, session_id: sessionId, title })
      .returning(['id', 'session_id', 'title', 'created_at'])
      .executeTakeFirstOrThrow();
    return toConversationView(row);
  }

  async conversations(userId: string, sessionId: string): Promise<ConversationView[]> {
    await this.row(this.deps.database.db, userId, sessionId);
    const rows = await this.deps.database.db
      .selectFrom('conversations')
      .select(['id', 'session_id', 'title', 'created_at'])
      .where('session_id', '=', sessionId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toConversationView);
  }

  /** Whether the session is the user's: the `session:<id>` topic's authorizer. */
  async owns(userId: string, id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const row = await this.deps.database.db.selectFrom('agent_sessions').select('id').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Which of `ids` are the user's sessions (lower-cased), in one query however many are asked:
   * the `session:<id>` topics' authorizer, which a subscribe frame of a hundred topics calls once.
   * Only well-formed UUIDs reach the query (anything else would be a data exception there).
   */
  async ownedAmong(userId: string, ids: readonly string[]): Promise<Set<string>> {
    const candidates = [...new Set(ids.map((id) => id.toLowerCase()).filter(isUuid))];
    if (candidates.length === 0) return new Set();
    const rows = await this.deps.database.db.selectFrom('agent_sessions').select('id').where('id', 'in', candidates).where('user_id', '=', userId).execute();
    return new Set(rows.map((row) => row.id.toLowerCase()));
  }

  /** What the session will run with: the rendered template (if any), the model and the tools. */
  private async setup(user: PromptUser, agent: AgentView, input: NewSession) {
    const templateId = input.templateId ?? agent.templateId ?? undefined;
    let prompt: { systemPrompt: string; userPrompt?: string; tools: string[]; variables: Record<string, unknown>; templateVersion: number } | undefined;
    let templateModel: string | undefined;
    let resolvedTemplateId: string | null = null;
    if (templateId) {
      const generated = await this.deps.templates.prompt(user, templateId, { variables: input.variables, version: input.templateVersion });
      const { template } = generated;
      if (generated.missingIntegrations.length > 0) {
        throw new AppError(
          'INTEGRATIONS_MISSING',
          `The template "${template.name}" requires ${generated.missingIntegrations.join(', ')}: connect ${generated.missingIntegrations.length === 1 ? 'it' : 'them'} first.`,
          { missingIntegrations: generated.missingIntegrations },
        );
      }
      prompt = generated;
      templateModel = template.model;
      resolvedTemplateId = template.id;
    } else if (input.variables && Object.keys(input.variables).length > 0) {
      throw new AppError('VALIDATION_FAILED', 'Variables need a template: give templateId, or use an agent that has one.');
    }
    const model = agent.model ?? templateModel ?? this.deps.defaultModel();
    this.deps.checkModel(model);
    // Integration tools are named by pattern and found at each step among the user's connected
    // ones: a template run gets every tool of the providers its steps use, a plain session all.
    const offered = prompt
      ? [...new Set([...prompt.tools, ...prompt.tools.flatMap((tool) => {
          const provider = providerOfTool(tool);
          return provider ? [providerToolsPattern(provider)] : [];
        })])]
      : [...((await this.deps.knowledgeBaseAvailable()) ? ['knowledge_search'] : []), ...this.deps.customTools, everyIntegrationTool];
    const allowed = agent.tools ? narrowTools(offered, agent.tools) : offered;
    // A template run can always say it is done, whatever the allow-list.
    const tools = prompt ? [...allowed, completeSessionToolName] : allowed;
    const instructions = agent.instructions.trim();
    const systemPrompt = prompt ? (instructions ? `${prompt.systemPrompt}\n\n## Agent instructions\n${instructions}` : prompt.systemPrompt) : instructions || defaultInstructions;
    return {
      template_id: resolvedTemplateId,
      template_version: prompt?.templateVersion ?? null,
      variables: (prompt?.variables ?? {}) as never,
      model,
      system_prompt: systemPrompt,
      user_prompt: prompt?.userPrompt ?? null,
      tools,
    };
  }

  /** Links the session's first conversation: the one the caller named (if free) or a new one. */
  private async attachConversation(tx: Executor, userId: string, sessionId: string, conversationId?: string): Promise<string> {
    if (!conversationId) {
      const row = await tx.insertInto('conversations').values({ user_id: userId, session_id: sessionId }).returning('id').executeTakeFirstOrThrow();
      return row.id;
    }
    const claimed = await tx
      .updateTable('conversations')
      .set({ session_id: sessionId })
      .where('id', '=', conversationId)
      .where('user_id', '=', userId)
      .where('session_id', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (claimed) return claimed.id;
    const exists = await tx.selectFrom('conversations').select('id').where('id', '=', conversationId).where('user_id', '=', userId).executeTakeFirst();
    throw new AppError(exists ? 'CONVERSATION_IN_USE' : 'CONVERSATION_NOT_FOUND');
  }

  /**
   * Records the session's state as a checkpoint and announces it after the change's own events,
   * in one insert; prunes unnamed ones past retention.
   */
  private async checkpoint(tx: Executor, session: SessionRow, reason: CheckpointReason, options: { name?: string | undefined; step?: number; events?: AgentryEvent[] } = {}): Promise<CheckpointView> {
    const { name, step = 0, events = [] } = options;
    const state = {
      status: session.status,
      context: session.context,
      version: session.version,
      counters: { messages: session.message_count, toolCalls: session.tool_call_count, errors: session.error_count },
    };
    const row = await tx
      .insertInto('session_checkpoints')
      .values({
        session_id: session.id,
        user_id: session.user_id,
        seq: sql<number>`(select coalesce(max(seq), 0) + 1 from session_checkpoints where session_id = ${session.id})`,
        reason,
        name: name ?? null,
        step,
        message_seq: sql<string>`(select coalesce(max(seq), 0) from messages where session_id = ${session.id})`,
        state: state as never,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    if (row.seq > this.deps.checkpointRetention) {
      await tx
        .deleteFrom('session_checkpoints')
        .where('session_id', '=', session.id)
        .where('name', 'is', null)
        .where('seq', '<=', row.seq - this.deps.checkpointRetention)
        .execute();
    }
    const announced: AgentryEvent[] = [...events, { type: 'session.checkpoint', data: { sessionId: session.id, checkpointId: row.id, step: row.step } }];
    await this.deps.bus.publish(tx, ...announced.map((event) => ({ userId: session.user_id, topic: sessionTopic(session.id), event })));
    return toCheckpointView(row);
  }

  private async row(executor: Executor, userId: string, id: string): Promise<SessionRow> {
    const row = await executor.selectFrom('agent_sessions').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    if (!row) throw new AppError('SESSION_NOT_FOUND');
    return row;
  }
}

async function firstConversation(executor: Executor, sessionId: string): Promise<string | null> {
  const row = await executor.selectFrom('conversations').select('id').where('session_id', '=', sessionId).orderBy('created_at').orderBy('id').limit(1).executeTakeFirst();
  return row?.id ?? null;
}

function toView(row: SessionRow, conversationId: string | null): SessionView {
  return {
    id: row.id,
    status: row.status,
    agentId: row.agent_id,
    templateId: row.template_id,
    templateVersion: row.template_version,
    model: row.model,
    tools: row.tools,
    userPrompt: row.user_prompt,
    context: row.context,
    variables: row.variables,
    conversationId,
    counters: {
      messages: row.message_count,
      toolCalls: row.tool_call_count,
      errors: row.error_count,
      inputTokens: Number(row.input_tokens),
      outputTokens: Number(row.output_tokens),
      costUsd: Number(row.cost_usd),
    },
    lastError: row.last_error,
    version: row.version,
    startedAt: row.started_at.toISOString(),
    lastActiveAt: row.last_active_at.toISOString(),
    completedAt: row.completed_at?.toISOString() ?? null,
  };
}

function toConversationView(row: { id: string; session_id: string | null; title: string; created_at: Date }): ConversationView {
  return { id: row.id, sessionId: row.session_id, title: row.title, createdAt: row.created_at.toISOString() };
}

function toCheckpointView(row: { id: string; seq: number; reason: CheckpointReason; name: string | null; step: number; created_at: Date }): CheckpointView {
  return { id: row.id, seq: row.seq, reason: row.reason, name: row.name, step: row.step, createdAt: row.created_at.toISOString() };
}

/** The offered tools an agent's allow-list keeps: names it lists, and integration tools or patterns it lists within an offered pattern. */
function narrowTools(offered: readonly string[], allowList: readonly string[]): string[] {
  const plain = offered.filter((tool) => !tool.includes('*') && allowList.some((allowed) => toolPatternCovers(allowed, tool)));
  const integration = allowList.filter((allowed) => offered.some((tool) => tool.includes('*') && toolPatternCovers(tool, allowed)));
  return [...new Set([...plain, ...integration])];
}
