import { AppError } from '../errors.ts';
import type { GeneratedPrompt, PromptCacheStats, PromptEngine } from './prompt-engine.ts';
import { compileTemplate } from './template-definition.ts';
import type { TemplateMatch, TemplateMatcher } from './template-matcher.ts';
import { toView, type StoredTemplate, type TemplateFilters, type TemplateStore, type TemplateView } from './template-store.ts';

export interface TemplateServiceDeps {
  store: TemplateStore;
  engine: PromptEngine;
  matcher: TemplateMatcher;
  /** Provider ids of the integrations a user has connected (and can use now). */
  connectedIntegrations: (userId: string) => Promise<readonly string[]>;
  /** Whether this installation has a knowledge base. */
  knowledgeBaseAvailable: () => Promise<boolean>;
  /** A match at or above this confidence may start its template straight from chat. */
  matchThreshold: number;
}

/** A template as the gallery lists it: with whether the caller can run it, and what is missing. */
export type TemplateListing = TemplateView & { available: boolean; missingIntegrations: string[] };

export interface PromptOptions {
  variables?: Record<string, unknown> | undefined;
  /** Narrows the integrations the prompt may use (see `prompt`). */
  integrations?: string[] | undefined;
  version?: number | undefined;
}

/** The user a prompt is written for. */
export interface PromptUser {
  id: string;
  name: string;
  timezone: string;
}

/**
 * The template side of the template-chat bridge: the gallery, a user's own templates, prompt
 * generation and matching chat messages to templates. Scoped to the calling user throughout.
 */
export class TemplateService {
  constructor(private readonly deps: TemplateServiceDeps) {}

  get matchThreshold(): number {
    return this.deps.matchThreshold;
  }

  /** The prompt cache's counters, for /metrics. */
  cacheStats(): PromptCacheStats {
    return this.deps.engine.stats();
  }

  async list(userId: string, filters: TemplateFilters & { available?: boolean | undefined } = {}): Promise<TemplateListing[]> {
    const [templates, connected] = await Promise.all([this.deps.store.list(userId, filters), this.connected(userId)]);
    const listings = templates.map((template) => {
      const missingIntegrations = missingFor(template, connected);
      return { ...toView(template), available: missingIntegrations.length === 0, missingIntegrations };
    });
    return filters.available === undefined ? listings : listings.filter((t) => t.available === filters.available);
  }

  async get(userId: string, idOrSlug: string, version?: number): Promise<TemplateView> {
    return toView(await this.deps.store.get(userId, idOrSlug, version));
  }

  versions(userId: string, id: string): Promise<Array<{ version: number; createdAt: string }>> {
    return this.deps.store.versions(userId, id);
  }

  /** Validates the definition (400 TEMPLATE_INVALID, naming the problem) and stores version 1. */
  async create(userId: string, body: unknown): Promise<TemplateView> {
    return toView(await this.deps.store.create(userId, compileTemplate(body)));
  }

  /** Validates the definition and stores it as the template's next version. */
  async update(userId: string, idOrSlug: string, body: unknown): Promise<TemplateView> {
    const compiled = compileTemplate(body);
    const { id } = await this.owned(userId, idOrSlug);
    const updated = await this.deps.store.update(userId, id, compiled);
    if (!updated) throw new AppError('TEMPLATE_NOT_FOUND');
    return toView(updated);
  }

  async delete(userId: string, idOrSlug: string): Promise<void> {
    const { id } = await this.owned(userId, idOrSlug);
    if (!(await this.deps.store.delete(userId, id))) throw new AppError('TEMPLATE_NOT_FOUND');
  }

  /**
   * The prompt for a template version and the caller's inputs. The integrations it may use are
   * the user's connected ones, narrowed by the request's `integrations` list when one is given
   * (until connections are tracked, that list stands in for them).
   */
  async prompt(user: PromptUser, idOrSlug: string, options: PromptOptions = {}): Promise<GeneratedPrompt & { template: TemplateView }> {
    const [template, knowledgeBase, connected] = await Promise.all([
      this.deps.store.get(user.id, idOrSlug, options.version),
      this.deps.knowledgeBaseAvailable(),
      this.connected(user.id, options.integrations),
    ]);
    const generated = this.deps.engine.generate(template, {
      variables: options.variables,
      connected,
      knowledgeBase,
      user: { name: user.name, timezone: user.timezone },
    });
    return { ...generated, template: toView(template) };
  }

  /** Ranks the caller's templates (their own and the built-ins) for a chat message. */
  async match(userId: string, message: string): Promise<TemplateMatch[]> {
    const [templates, connected] = await Promise.all([this.deps.store.list(userId), this.connected(userId)]);
    return this.deps.matcher.match(
      message,
      templates.map((t) => ({
        id: t.id,
        version: t.version,
        definition: t.compiled.definition,
        missingIntegrations: missingFor(t, connected),
      })),
    );
  }

  private async connected(userId: string, requested?: readonly string[]): Promise<readonly string[]> {
    const connected = await this.deps.connectedIntegrations(userId);
    return requested ? connected.filter((p) => requested.includes(p)) : connected;
  }

  /** One of the caller's own templates, to change: a built-in is read-only. */
  private async owned(userId: string, idOrSlug: string): Promise<StoredTemplate> {
    const template = await this.deps.store.get(userId, idOrSlug);
    if (template.builtIn) throw new AppError('TEMPLATE_READ_ONLY');
    return template;
  }
}

/** The integrations a template requires that are not among the connected ones. */
function missingFor(template: StoredTemplate, connected: readonly string[]): string[] {
  return template.compiled.definition.integrations.required.filter((p) => !connected.includes(p));
}
