import { AppError, isAppError } from '../errors.ts';
import type { SessionService } from '../sessions/index.ts';
import type { PromptUser, TemplateMatch, TemplateService } from '../templates/index.ts';
import type { AgentRunner } from './agent-runner.ts';
import { extractVariables } from './variable-extraction.ts';

export interface ChatResult {
  executed: boolean;
  templateId?: string;
  sessionId?: string;
  conversationId?: string;
  turnId?: string;
  /** The best matches, when nothing ran. */
  suggestions?: TemplateMatch[];
  /** Variables the message did not give, when the best template needs them. */
  missingVariables?: Array<{ name: string; type: string; description?: string | undefined }>;
  /** Integrations to connect before the best template can run. */
  missingIntegrations?: string[];
}

export interface ChatBridgeDeps {
  templates: TemplateService;
  sessions: SessionService;
  runner: AgentRunner;
  /** Whether a confident match may start its template (FEATURE_CHAT_AUTO_EXECUTE). */
  autoExecute: () => Promise<boolean>;
  today: (timezone: string) => string;
}

/**
 * The template-chat bridge: a chat message is matched against the user's templates; above the
 * threshold the best one starts as a session with the variables the message states, and its first
 * turn runs; otherwise the caller gets suggestions, or the variables and integrations still
 * missing. The session id is the handle: no template data travels in URLs.
 */
export class ChatBridge {
  constructor(private readonly deps: ChatBridgeDeps) {}

  async chat(user: PromptUser, message: string, conversationId?: string): Promise<ChatResult> {
    const { templates } = this.deps;
    const matches = await templates.match(user.id, message);
    const best = matches[0];
    if (!best || best.confidence < templates.matchThreshold || !(await this.deps.autoExecute()))
      return { executed: false, suggestions: matches.slice(0, 3) };
    if (!best.available)
      return {
        executed: false,
        templateId: best.templateId,
        missingIntegrations: best.missingIntegrations,
        suggestions: matches.slice(0, 3),
      };
    const template = await templates.get(user.id, best.templateId);
    const variables = extractVariables(template, message, this.deps.today(user.timezone));
    let started;
    try {
      started = await this.deps.sessions.create(user, {
        templateId: template.id,
        templateVersion: template.version,
        variables,
        conversationId,
      });
    } catch (error) {
      if (isAppError(error) && error.code === 'MISSING_VARIABLES') {
        const names = (error.details as { missing: string[] }).missing;
        return {
          executed: false,
          templateId: template.id,
          missingVariables: template.variables
            .filter((v) => names.includes(v.name))
            .map((v) => ({ name: v.name, type: v.type, description: v.description })),
        };
      }
      throw error;
    }
    const { session } = started;
    if (!session.conversationId) throw new AppError('INTERNAL', 'A new session has no conversation.');
    // The user's own words open the run; the template's rendered prompt already holds the variables.
    const { turnId } = await this.deps.runner.send(user, session.conversationId, message);
    return { executed: true, templateId: template.id, sessionId: session.id, conversationId: session.conversationId, turnId };
  }
}
