import { sql } from 'kysely';
import { decodeCursor, encodeCursor, isUuid, type PostgresDatabase, type SessionStatus } from '../database/index.ts';
import { AppError } from '../errors.ts';
import type { AgentryEvent, EventBus } from '../events/index.ts';
import type { PromptUser, TemplateService } from '../templates/index.ts';
import type { AgentService } from './agent-service.ts';
import type { DroppedContext } from './context-sanitizer.ts';
import { SessionCheckpoints, type CheckpointView } from './session-checkpoints.ts';
import { SessionCreation, type NewSession } from './session-creation.ts';
import { SessionContextStore } from './session-context.ts';
import { firstConversation, SessionConversations, type ConversationView, type KnownSession } from './session-conversations.ts';
import { SessionProgress } from './session-progress.ts';
import { findSession, type SessionRow } from './session-row.ts';
import { SessionSetup } from './session-setup.ts';
import { assertTransition } from './session-status.ts';
import { toSessionView, type SessionView } from './session-view.ts';
import type { ApprovalWaitListener } from './tool-approvals.ts';
import { TurnLeases } from './turn-leases.ts';
import { TurnStore } from './turn-store.ts';
import { endUnattendedTurn } from './unattended-turns.ts';

/** How often a session called one tool, and how many of those calls failed or were refused. */
export interface ToolUse {
  tool: string;
  calls: number;
  errors: number;
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
  /** Turn leases: `instanceId` names this instance in them; `ttlMs` is how long one lasts unrenewed. */
  leases: { instanceId: string; ttlMs: number };
  /** Told when an unattended session's turn starts waiting for approvals, in that transaction (see ToolApprovals.wait). */
  onApprovalWait?: ApprovalWaitListener | undefined;
}

/**
 * Sessions: created from an agent and/or a template, with the template's prompt rendered once and
 * kept (session-setup.ts, session-creation.ts), so the session runs the version it started with.
 * Every change is one transaction or statement with its checkpoint (session-checkpoints.ts) and its events; writers race through an
 * optimistic lock (`version`), and the loser is told (409 SESSION_LOCKED) rather than overwriting.
 * Status changes follow the table in session-status.ts. Conversations live in
 * session-conversations.ts, and turns (what the agent loop records) behind `turns`
 * (turn-store.ts); this class is the area's one entry point for them all.
 */
export class SessionService {
  private readonly creation: SessionCreation;
  private readonly checkpointing: SessionCheckpoints;
  private readonly conversationStore: SessionConversations;
  /** The session's turns: the port the agent loop writes and reads them through. */
  readonly turns: TurnStore;
  /** The session's context and its conversations' running summaries: what the model reads besides the transcript. */
  readonly context: SessionContextStore;

  constructor(private readonly deps: SessionServiceDeps) {
    this.checkpointing = new SessionCheckpoints({ database: deps.database, bus: deps.bus, retention: deps.checkpointRetention });
    this.conversationStore = new SessionConversations(deps.database);
    this.creation = new SessionCreation({
      database: deps.database,
      bus: deps.bus,
      setup: new SessionSetup(deps),
      checkpoints: this.checkpointing,
      conversations: this.conversationStore,
    });
    const progress = new SessionProgress({ database: deps.database, bus: deps.bus, checkpoints: this.checkpointing });
    this.turns = new TurnStore({ ...deps, progress, instanceId: deps.leases.instanceId, leaseTtlMs: deps.leases.ttlMs });
    const leases = new TurnLeases(deps.database, deps.leases.instanceId, deps.leases.ttlMs);
    this.context = new SessionContextStore({ database: deps.database, checkpoints: this.checkpointing, progress, leases });
  }

  /** Creates a session from an agent and/or a template (see SessionCreation). */
  create(user: PromptUser, input: NewSession): Promise<{ session: SessionView; dropped: DroppedContext[] }> {
    return this.creation.create(user, input);
  }

  /**
   * A session with its checkpoints summary, the tools it has used (calls and failures each), and
   * its unfinished turn: `running`, or `suspended` until the user decides on a tool call whose
   * outcome a crash left unknown. A client that opens the session learns from it whether to wait.
   */
  async get(
    userId: string,
    id: string,
  ): Promise<
    SessionView & {
      checkpoints: { count: number; latest: CheckpointView | null };
      toolsUsed: ToolUse[];
      activeTurn: { id: string; status: 'running' | 'suspended' | 'awaiting_approval' } | null;
    }
  > {
    const { db } = this.deps.database;
    const row = await findSession(db, { userId, id });
    const [conversationId, checkpoints, toolsUsed, activeTurn] = await Promise.all([
      firstConversation(db, id),
      this.checkpointing.summary(db, id),
      db
        .selectFrom('messages')
        .select([
          'tool_name',
          (eb) => eb.fn.countAll<string>().as('calls'),
          (eb) => eb.fn.countAll<string>().filterWhere('is_error', '=', true).as('errors'),
        ])
        .where('session_id', '=', id)
        .where('role', '=', 'tool')
        .groupBy('tool_name')
        .orderBy('tool_name')
        .execute(),
      db
        .selectFrom('turns')
        .select(['id', 'status'])
        .where('session_id', '=', id)
        .where('status', 'in', ['running', 'suspended', 'awaiting_approval'])
        .executeTakeFirst(),
    ]);
    return {
      ...toSessionView(row, conversationId),
      checkpoints,
      toolsUsed: toolsUsed.map((t) => ({ tool: t.tool_name ?? '', calls: Number(t.calls), errors: Number(t.errors) })),
      activeTurn: activeTurn ? { id: activeTurn.id, status: activeTurn.status as 'running' | 'suspended' | 'awaiting_approval' } : null,
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
    const rows = await select
      .orderBy(activeMs, 'desc')
      .orderBy('s.id', 'desc')
      .limit(query.limit + 1)
      .execute();
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      sessions: page.map((row) => toSessionView(row, row.conversation_id)),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last.last_active_at, last.id) : null,
    };
  }

  /**
   * Pauses, resumes, completes or fails a session, with a checkpoint (named when asked). Of two
   * requests racing on one session, the second answers 409 SESSION_LOCKED.
   */
  async changeStatus(userId: string, id: string, to: SessionStatus, checkpoint: { name?: string | undefined } = {}): Promise<SessionView> {
    const current = await findSession(this.deps.database.db, { userId, id });
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
      const suspended = await tx
        .selectFrom('turns')
        .select('id')
        .where('session_id', '=', id)
        .where('status', '=', 'suspended')
        .executeTakeFirst();
      if (suspended && to === 'running') {
        throw new AppError(
          'TOOL_OUTCOME_UNKNOWN',
          'A tool call of this session may or may not have run: decide with POST /v1/sessions/:id/resolve (retry, skip or fail) before resuming.',
        );
      }
      if (suspended && (to === 'completed' || to === 'failed')) {
        const ended = await endUnattendedTurn(tx, suspended.id, { status: 'suspended' }, { status: 'cancelled' });
        if (ended) events.push(ended);
      }
      // Calls awaiting approval are dropped when the session stops running (the model reads so if
      // the turn resumes); a session that runs again lets a turn whose calls were all dropped resume.
      if (to === 'running') await this.turns.approvals.release(tx, id);
      else events.push(...(await this.turns.approvals.drop(tx, row, { end: to !== 'paused' })));
      await this.checkpointing.record(tx, { session: row, reason: 'status', name: checkpoint.name, events });
      return toSessionView(row, await firstConversation(tx, id));
    });
  }

  /** Continues the session from a checkpoint (see SessionCheckpoints.restore). */
  async restore(userId: string, id: string, checkpointId: string): Promise<SessionView> {
    return this.checkpointing.restore({ userId, id, checkpointId });
  }

  /** Takes a checkpoint on request, optionally named (named ones outlive retention). */
  async takeCheckpoint(userId: string, id: string, name?: string): Promise<CheckpointView> {
    return this.checkpointing.take({ userId, id, name });
  }

  async checkpoints(userId: string, id: string): Promise<CheckpointView[]> {
    return this.checkpointing.list({ userId, id });
  }

  async delete(userId: string, id: string): Promise<void> {
    const result = await this.deps.database.db
      .deleteFrom('agent_sessions')
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (result.numDeletedRows === 0n) throw new AppError('SESSION_NOT_FOUND');
  }

  /**
   * Adds a conversation to one of the user's sessions, or (with no session) starts one of its
   * own: its first message starts a session with the default agent, or it is given to a new
   * session as `conversationId`.
   */
  async addConversation(userId: string, sessionId: string | null, title = ''): Promise<ConversationView> {
    return this.conversationStore.add({ userId, sessionId, title });
  }

  /** The session this instance created or found for a conversation, if it remembers it (see SessionConversations). */
  knownSessionOf(conversationId: string): KnownSession | undefined {
    return this.conversationStore.knownSession(conversationId);
  }

  /** The session a conversation of the user's belongs to, null before its first message; 404 if it is not theirs. */
  async sessionOfConversation(userId: string, conversationId: string): Promise<SessionRow | null> {
    return this.conversationStore.sessionOf({ userId, conversationId });
  }

  /**
   * The conversation a client continues when it names only the session (its first), in one query
   * that also checks the session is the user's: 404 SESSION_NOT_FOUND otherwise.
   */
  async mainConversation(userId: string, sessionId: string): Promise<string> {
    const row = isUuid(sessionId)
      ? await this.deps.database.db
          .selectFrom('conversations as c')
          .innerJoin('agent_sessions as s', 's.id', 'c.session_id')
          .select('c.id')
          .where('s.id', '=', sessionId)
          .where('s.user_id', '=', userId)
          .orderBy('c.created_at')
          .orderBy('c.id')
          .limit(1)
          .executeTakeFirst()
      : undefined;
    if (!row) throw new AppError('SESSION_NOT_FOUND', `There is no session ${sessionId} of yours with a conversation.`);
    return row.id;
  }

  async conversations(userId: string, sessionId: string): Promise<ConversationView[]> {
    return this.conversationStore.list({ userId, sessionId });
  }

  /**
   * The session a trigger firing started, if one was made, with its conversation and whether a
   * turn was opened in it: what a start retried after a crash needs to go on without repeating.
   */
  async ofTriggerFiring(
    firingId: string,
  ): Promise<{ id: string; conversationId: string | null; hasTurn: boolean; userPrompt: string | null } | undefined> {
    const row = await this.deps.database.db
      .selectFrom('agent_sessions as s')
      .select(['s.id', 's.user_prompt'])
      .select((eb) => [
        eb
          .selectFrom('conversations as c')
          .select('c.id')
          .whereRef('c.session_id', '=', 's.id')
          .orderBy('c.created_at')
          .limit(1)
          .as('conversation_id'),
        eb.exists(eb.selectFrom('turns as t').select('t.id').whereRef('t.session_id', '=', 's.id')).as('has_turn'),
      ])
      .where('s.trigger_firing_id', '=', firingId)
      .executeTakeFirst();
    return row
      ? { id: row.id, conversationId: row.conversation_id, hasTurn: Boolean(row.has_turn), userPrompt: row.user_prompt }
      : undefined;
  }

  /** Whether the session is the user's: the `session:<id>` topic's authorizer. */
  async owns(userId: string, id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const row = await this.deps.database.db
      .selectFrom('agent_sessions')
      .select('id')
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
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
    const rows = await this.deps.database.db
      .selectFrom('agent_sessions')
      .select('id')
      .where('id', 'in', candidates)
      .where('user_id', '=', userId)
      .execute();
    return new Set(rows.map((row) => row.id.toLowerCase()));
  }
}
