import { AppError } from '../errors.ts';
import { completeSessionToolName, type PromptUser, type TemplateService } from '../templates/index.ts';
import type { AgentService, AgentView } from './agent-service.ts';
import { narrowTools, plainToolOffer, templateToolOffer } from './narrow-tools.ts';

const defaultInstructions = 'You are a helpful assistant. Be accurate and brief, and say so when you do not know.';

export interface SessionSetupDeps {
  agents: AgentService;
  templates: TemplateService;
  knowledgeBaseAvailable: () => Promise<boolean>;
  defaultModel: () => string;
  /** Throws 400 UNKNOWN_MODEL for a model id no provider serves. */
  checkModel: (id: string) => void;
  /** The administrator's custom tools, offered to sessions that run no template. */
  customTools: readonly string[];
}

/** What a new session asks to run: which agent, which template (and version), with which variables. */
export interface SetupRequest {
  agentId?: string | undefined;
  templateId?: string | undefined;
  templateVersion?: number | undefined;
  variables?: Record<string, unknown> | undefined;
}

/** The columns of a new session row that fix what it runs with, rendered once and kept. */
export interface SessionSetupColumns {
  template_id: string | null;
  template_version: number | null;
  variables: Record<string, unknown>;
  model: string;
  system_prompt: string;
  user_prompt: string | null;
  tools: string[];
}

/**
 * Renders the agent and template into what a new session runs with: the prompt (the template's,
 * with the agent's instructions), the model, the variables and the tools the agent's allow-list
 * keeps. Done once at creation, so a session runs the version it started with. Refuses a template
 * whose integrations are not connected, variables without a template, and a model no provider serves.
 */
export class SessionSetup {
  constructor(private readonly deps: SessionSetupDeps) {}

  async render(user: PromptUser, request: SetupRequest): Promise<{ agent: AgentView; columns: SessionSetupColumns }> {
    const agent = request.agentId ? await this.deps.agents.get(user.id, request.agentId) : await this.deps.agents.defaultAgent(user.id);
    const templateId = request.templateId ?? agent.templateId ?? undefined;
    let prompt:
      | { systemPrompt: string; userPrompt?: string; tools: string[]; variables: Record<string, unknown>; templateVersion: number }
      | undefined;
    let templateModel: string | undefined;
    let resolvedTemplateId: string | null = null;
    if (templateId) {
      const generated = await this.deps.templates.prompt(user, templateId, {
        variables: request.variables,
        version: request.templateVersion,
      });
      const { template } = generated;
      if (generated.missingIntegrations.length > 0) {
        throw new AppError(
          'INTEGRATIONS_MISSING',
          `The template "${template.name}" requires ${generated.missingIntegrations.join(', ')}: connect ${generated.missingIntegrations.length === 1 ? 'it' : 'them'} first.`,
          { details: { missingIntegrations: generated.missingIntegrations } },
        );
      }
      prompt = generated;
      templateModel = template.model;
      resolvedTemplateId = template.id;
    } else if (request.variables && Object.keys(request.variables).length > 0) {
      throw new AppError('VALIDATION_FAILED', 'Variables need a template: give templateId, or use an agent that has one.');
    }
    const model = agent.model ?? templateModel ?? this.deps.defaultModel();
    this.deps.checkModel(model);
    // Integration tools are named by pattern and found at each step among the user's connected
    // ones: a template run gets every tool of the providers its steps use, a plain session all.
    const offered = prompt
      ? templateToolOffer(prompt.tools)
      : plainToolOffer({ knowledgeBase: await this.deps.knowledgeBaseAvailable(), customTools: this.deps.customTools });
    const allowed = agent.tools ? narrowTools(offered, agent.tools) : offered;
    // A template run can always say it is done, whatever the allow-list.
    const tools = prompt ? [...allowed, completeSessionToolName] : allowed;
    const instructions = agent.instructions.trim();
    const systemPrompt = prompt
      ? instructions
        ? `${prompt.systemPrompt}\n\n## Agent instructions\n${instructions}`
        : prompt.systemPrompt
      : instructions || defaultInstructions;
    const columns: SessionSetupColumns = {
      template_id: resolvedTemplateId,
      template_version: prompt?.templateVersion ?? null,
      variables: prompt?.variables ?? {},
      model,
      system_prompt: systemPrompt,
      user_prompt: prompt?.userPrompt ?? null,
      tools,
    };
    return { agent, columns };
  }
}
