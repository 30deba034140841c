import type { AgentRunner } from '../agent/index.ts';
import { isUuid } from '../database/index.ts';
import { AppError } from '../errors.ts';
import type { EventBus } from '../events/index.ts';
import type { AgentService, SessionService } from '../sessions/index.ts';
import type { PromptUser, TemplateService } from '../templates/index.ts';
import { checkSupported, type CompletionRequest } from './completion-request.ts';
import { CompletionTurn } from './completion-turn.ts';
import { ModelDirectory, type ModelEntry } from './model-directory.ts';
import { TurnFollower } from './turn-follower.ts';
import { turnContent } from './turn-content.ts';

export interface ChatCompletionsDeps {
  agents: AgentService;
  templates: TemplateService;
  sessions: SessionService;
  runner: AgentRunner;
  bus: EventBus;
  /** How long one completion waits for its turn (streamed or not) before it answers TURN_TIMEOUT. */
  maxWaitMs: number;
}

/**
 * OpenAI's chat completions over Agentry's sessions: the messages become a turn of a session (a
 * new one per request, or the one the client names, so its conversation maps to one session),
 * and the turn's answer comes back as a `chat.completion` or its chunks. The agent's own tools
 * run on the server as in any turn; the client's tools are refused.
 *
 * Everything a request may be refused for is checked before anything is written; a new session
 * whose turn cannot start is removed again, so a refused request leaves nothing behind.
 */
export class ChatCompletions {
  private readonly models: ModelDirectory;

  constructor(private readonly deps: ChatCompletionsDeps) {
    this.models = new ModelDirectory(deps);
  }

  /** The user's agents and templates, as the models a client may name. */
  listModels(userId: string): Promise<ModelEntry[]> {
    return this.models.list(userId);
  }

  /**
   * Starts the turn and returns it, to be answered whole or streamed. `sessionId` (a client's
   * header) or a `user` that is one of the user's session ids continues that session with the
   * trailing user message(s); any other `user` is the client's own label and is not used.
   */
  async start(user: PromptUser, request: CompletionRequest, options: { sessionId?: string | undefined } = {}): Promise<CompletionTurn> {
    checkSupported(request);
    const { sessions, runner } = this.deps;
    if (options.sessionId !== undefined && !isUuid(options.sessionId))
      throw new AppError('VALIDATION_FAILED', 'x-agentry-session must be a session id (a UUID).', {
        details: { issues: [{ path: 'headers.x-agentry-session', message: 'must be a UUID' }] },
      });
    const named = (options.sessionId ?? (request.user && isUuid(request.user) ? request.user : undefined))?.toLowerCase();
    const content = turnContent(request.messages, { continuing: named !== undefined });
    // The model is checked even when a session is named (its agent stays the session's): a typo is a 404 either way.
    const [target, continued] = await Promise.all([
      this.models.resolve(user.id, request.model),
      named ? sessions.mainConversation(user.id, named) : undefined,
    ]);
    let sessionId: string;
    let conversationId: string | undefined;
    if (named) {
      sessionId = named;
      conversationId = continued;
    } else {
      const { session } = await sessions.create(
        user,
        target.kind === 'agent'
          ? { agentId: target.agent.id }
          : { templateId: target.template.id, templateVersion: target.template.version },
      );
      sessionId = session.id;
      conversationId = session.conversationId ?? undefined;
    }
    const follower = new TurnFollower(this.deps.bus, sessionId);
    try {
      if (!conversationId) throw new AppError('CONFLICT', 'The session has no conversation to continue.');
      const { turnId, messageId, done } = await runner.send(user, conversationId, content);
      follower.follow({ turnId, userMessageId: messageId, maxWaitMs: this.deps.maxWaitMs });
      return new CompletionTurn({
        follower,
        sessionId,
        turnId,
        model: request.model,
        done,
        answer: () => sessions.turns.transcript.turnAnswer(sessionId, turnId),
      });
    } catch (error) {
      follower.close();
      // A session made for this request and never used (the spend limit, say) goes with the refusal.
      if (!named) await sessions.delete(user.id, sessionId).catch(() => undefined);
      throw error;
    }
  }
}
