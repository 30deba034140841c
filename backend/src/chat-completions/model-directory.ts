import { isUuid } from '../database/index.ts';
import { AppError, isAppError } from '../errors.ts';
import type { AgentService, AgentView } from '../sessions/index.ts';
import type { TemplateService, TemplateView } from '../templates/index.ts';

/** What a `model` names: one of the user's agents, or a template (run with its default variables). */
export type ModelTarget = { kind: 'agent'; agent: AgentView } | { kind: 'template'; template: TemplateView };

/** A model as `GET /v1/openai/models` lists it. */
export interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/**
 * The user's agents and templates as OpenAI "models". An agent is named by id or slug, a template
 * by slug (or id); when an agent and a template share a slug, the agent is meant (it is the
 * user's own, and the list shows it once).
 */
export class ModelDirectory {
  constructor(private readonly deps: { agents: AgentService; templates: TemplateService }) {}

  async resolve(userId: string, model: string): Promise<ModelTarget> {
    const { agents, templates } = this.deps;
    const id = model.toLowerCase();
    const agent = isUuid(id) ? await agents.get(userId, id).catch(notFound('AGENT_NOT_FOUND')) : await agents.bySlug(userId, model);
    if (agent) return { kind: 'agent', agent };
    const template = await templates.get(userId, model).catch(notFound('TEMPLATE_NOT_FOUND'));
    if (template) return { kind: 'template', template };
    throw new AppError(
      'MODEL_NOT_FOUND',
      `The model "${model}" does not exist: name one of your agents or templates (GET /v1/openai/models).`,
      {
        details: { model },
      },
    );
  }

  async list(userId: string): Promise<ModelEntry[]> {
    const [agents, templates] = await Promise.all([this.deps.agents.list(userId), this.deps.templates.list(userId)]);
    const slugs = new Set(agents.map((a) => a.slug));
    return [
      ...agents.map((a) => entry(a.slug, a.createdAt, 'agentry:agent')),
      ...templates.filter((t) => !slugs.has(t.slug)).map((t) => entry(t.slug, t.createdAt, 'agentry:template')),
    ];
  }
}

function entry(id: string, createdAt: string, ownedBy: string): ModelEntry {
  return { id, object: 'model', created: Math.floor(Date.parse(createdAt) / 1000), owned_by: ownedBy };
}

/** A lookup that found nothing answers undefined; any other failure is the caller's to hear. */
function notFound(code: 'AGENT_NOT_FOUND' | 'TEMPLATE_NOT_FOUND') {
  return (error: unknown): undefined => {
    if (isAppError(error) && error.code === code) return undefined;
    throw error;
  };
}
