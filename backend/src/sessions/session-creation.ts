import { randomUUID } from 'node:crypto';
import { sql, type Insertable } from 'kysely';
import type { AgentSessionsTable, PostgresDatabase } from '../database/index.ts';
import type { AgentryEvent, EventBus } from '../events/index.ts';
import type { PromptUser } from '../templates/index.ts';
import { sanitizeContext, type DroppedContext } from './context-sanitizer.ts';
import { checkpointStateOf, type SessionCheckpoints } from './session-checkpoints.ts';
import type { SessionConversations } from './session-conversations.ts';
import { sessionTopic } from './session-events.ts';
import { sessionFromJson, sessionJson, type SessionJson } from './session-row.ts';
import type { SessionSetup, SetupRequest } from './session-setup.ts';
import { toSessionView, type SessionView } from './session-view.ts';

export interface NewSession extends SetupRequest {
  context?: Record<string, unknown> | undefined;
  conversationId?: string | undefined;
  /**
   * The trigger firing starting this session: the session is marked unattended, and a firing
   * starts at most one session (a unique column), so a start retried after a crash finds it.
   */
  triggerFiringId?: string | undefined;
}

/** A new session's row, its id chosen before it is written. */
type NewSessionRow = Insertable<AgentSessionsTable> & { id: string; agent_id: string };

export interface SessionCreationDeps {
  database: PostgresDatabase;
  bus: EventBus;
  setup: SessionSetup;
  checkpoints: SessionCheckpoints;
  conversations: SessionConversations;
}

/**
 * Creates sessions: rendered once (session-setup.ts), then the session, its first conversation,
 * its `created` checkpoint and the events announcing them written together. With a new
 * conversation that is one statement; claiming one the user already has (which may answer
 * CONVERSATION_NOT_FOUND or CONVERSATION_IN_USE) is a transaction.
 */
export class SessionCreation {
  constructor(private readonly deps: SessionCreationDeps) {}

  async create(user: PromptUser, input: NewSession): Promise<{ session: SessionView; dropped: DroppedContext[] }> {
    const { agent, columns } = await this.deps.setup.render(user, input);
    const { context, dropped } = sanitizeContext(input.context ?? {});
    const values: NewSessionRow = {
      id: randomUUID(), // chosen here: the events that announce it go in the same statement
      user_id: user.id,
      agent_id: agent.id,
      status: 'running',
      context,
      ...columns,
      ...(input.triggerFiringId ? { unattended: true, trigger_firing_id: input.triggerFiringId } : {}),
    };
    const created: AgentryEvent = { type: 'session.status_changed', data: { sessionId: values.id, from: null, to: 'running' } };
    const session = input.conversationId ? await this.claiming(values, input.conversationId, created) : await this.alone(values, created);
    return { session, dropped };
  }

  /** The session, a new conversation, the checkpoint and the events: one statement. */
  private async alone(values: NewSessionRow, created: AgentryEvent): Promise<SessionView> {
    const { db } = this.deps.database;
    const conversationId = randomUUID();
    const checkpoint = this.deps.checkpoints.recording({
      sessionId: values.id,
      userId: values.user_id,
      reason: 'created',
      step: 0,
      state: checkpointStateOf('session'),
      messageSeq: sql<string>`0`,
      from: 'session',
    });
    const returned = await this.deps.bus.publishAlone<{ session: SessionJson }>(
      [created, checkpoint.event].map((event) => ({ userId: values.user_id, topic: sessionTopic(values.id), event })),
      {
        after: [
          ['session', db.insertInto('agent_sessions').values(values).returningAll()],
          [
            'conversation',
            sql`insert into conversations (id, user_id, session_id) select ${conversationId}::uuid, s.user_id, s.id from session s returning id`,
          ],
          ...checkpoint.after,
        ],
        returning: { session: sql<SessionJson>`(select ${sessionJson('s')} from session s)` },
      },
    );
    // The insert writes or throws (a trigger firing's second start: its unique column).
    this.deps.conversations.remember(conversationId, values);
    return toSessionView(sessionFromJson(returned!.session), conversationId);
  }

  /** The session, claiming the user's conversation: a transaction, as the claim may be refused. */
  private async claiming(values: NewSessionRow, conversationId: string, created: AgentryEvent): Promise<SessionView> {
    const session = await this.deps.database.transaction(async (tx) => {
      const row = await tx.insertInto('agent_sessions').values(values).returningAll().executeTakeFirstOrThrow();
      const attached = await this.deps.conversations.attach(tx, { userId: row.user_id, sessionId: row.id, conversationId });
      await this.deps.checkpoints.record(tx, { session: row, reason: 'created', events: [created] });
      return toSessionView(row, attached);
    });
    this.deps.conversations.remember(conversationId, values);
    return session;
  }
}
