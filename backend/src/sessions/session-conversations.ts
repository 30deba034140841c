import type { Executor, PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';
import { findSession, type SessionRow } from './session-row.ts';

export interface ConversationView {
  id: string;
  /** Null until the conversation's first message (or a new session) takes it. */
  sessionId: string | null;
  title: string;
  createdAt: string;
}

/** A conversation's session as this instance knows it: which session, whose, of which agent. */
export type KnownSession = Pick<SessionRow, 'id' | 'user_id' | 'agent_id'>;

/** Conversations whose session an instance remembers (a few hundred bytes each). */
const knownKept = 10_000;

/**
 * A session's conversations: threads of messages within it. A conversation may exist before its
 * session (a console chat started without one) and is taken by the first session that names it.
 * Once taken it is never given to another, so the instance remembers the sessions it created or
 * read for conversations (the oldest forgotten first): a turn can open without reading it again.
 */
export class SessionConversations {
  private readonly known = new Map<string, KnownSession>();

  constructor(private readonly database: PostgresDatabase) {}

  /** The session this instance created or found for the conversation, if it remembers it: its status is not known. */
  knownSession(conversationId: string): KnownSession | undefined {
    return this.known.get(conversationId);
  }

  remember(conversationId: string, session: KnownSession): void {
    if (this.known.has(conversationId)) return;
    if (this.known.size >= knownKept) this.known.delete(this.known.keys().next().value!);
    this.known.set(conversationId, { id: session.id, user_id: session.user_id, agent_id: session.agent_id });
  }

  /**
   * Adds a conversation to one of the user's sessions, or (with no session) starts one of its
   * own: its first message starts a session with the default agent, or it is given to a new
   * session as `conversationId`.
   */
  async add(options: { userId: string; sessionId: string | null; title: string }): Promise<ConversationView> {
    const { userId, sessionId, title } = options;
    if (sessionId) await findSession(this.database.db, { userId, id: sessionId });
    const row = await this.database.db
      .insertInto('conversations')
      .values({ user_id: userId, session_id: sessionId, title })
      .returning(['id', 'session_id', 'title', 'created_at'])
      .executeTakeFirstOrThrow();
    return toConversationView(row);
  }

  async list(options: { userId: string; sessionId: string }): Promise<ConversationView[]> {
    const { userId, sessionId } = options;
    await findSession(this.database.db, { userId, id: sessionId });
    const rows = await this.database.db
      .selectFrom('conversations')
      .select(['id', 'session_id', 'title', 'created_at'])
      .where('session_id', '=', sessionId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toConversationView);
  }

  /**
   * The session a conversation of the user's belongs to, as its row (null until its first message
   * starts one), or 404 CONVERSATION_NOT_FOUND: one query, on every message a user sends.
   */
  async sessionOf(options: { userId: string; conversationId: string }): Promise<SessionRow | null> {
    const row = await this.database.db
      .selectFrom('conversations as c')
      .leftJoin('agent_sessions as s', 's.id', 'c.session_id')
      .selectAll('s')
      .select('c.session_id as attached_to')
      .where('c.id', '=', options.conversationId)
      .where('c.user_id', '=', options.userId)
      .executeTakeFirst();
    if (!row) throw new AppError('CONVERSATION_NOT_FOUND');
    const { attached_to: attachedTo, ...session } = row;
    if (attachedTo === null) return null;
    this.remember(options.conversationId, session as SessionRow);
    return session as SessionRow;
  }

  /**
   * Gives a new session, inside its creating transaction, the conversation the caller named: 404
   * CONVERSATION_NOT_FOUND unless it is the user's, 409 CONVERSATION_IN_USE if a session has it.
   */
  async attach(tx: Executor, options: { userId: string; sessionId: string; conversationId: string }): Promise<string> {
    const { userId, sessionId, conversationId } = options;
    const claimed = await tx
      .updateTable('conversations')
      .set({ session_id: sessionId })
      .where('id', '=', conversationId)
      .where('user_id', '=', userId)
      .where('session_id', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (claimed) return claimed.id;
    const exists = await tx
      .selectFrom('conversations')
      .select('id')
      .where('id', '=', conversationId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    throw new AppError(exists ? 'CONVERSATION_IN_USE' : 'CONVERSATION_NOT_FOUND');
  }
}

/** The session's first conversation (the one its view names), or null when it has none. */
export async function firstConversation(executor: Executor, sessionId: string): Promise<string | null> {
  const row = await executor
    .selectFrom('conversations')
    .select('id')
    .where('session_id', '=', sessionId)
    .orderBy('created_at')
    .orderBy('id')
    .limit(1)
    .executeTakeFirst();
  return row?.id ?? null;
}

function toConversationView(row: { id: string; session_id: string | null; title: string; created_at: Date }): ConversationView {
  return { id: row.id, sessionId: row.session_id, title: row.title, createdAt: row.created_at.toISOString() };
}
