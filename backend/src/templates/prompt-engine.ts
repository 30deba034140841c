import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { buildPrompt, dateIn, type BuiltPrompt } from './prompt-builder.ts';
import type { CompiledTemplate } from './template-definition.ts';
import { resolveVariables, type ResolvedVariables } from './template-variables.ts';

/** One version of a template: immutable, so what is rendered from it can be kept. */
export interface TemplateVersionRef {
  id: string;
  version: number;
  compiled: CompiledTemplate;
}

export interface PromptRequest {
  variables?: Record<string, unknown> | undefined;
  connected: readonly string[];
  knowledgeBase: boolean;
  user: { name: string; timezone: string };
}

export interface GeneratedPrompt extends BuiltPrompt {
  variables: ResolvedVariables;
  templateVersion: number;
  cache: 'hit' | 'miss';
}

export interface PromptCacheStats {
  hits: number;
  misses: number;
  entries: number;
}

/**
 * Turns a template version and a caller's inputs into a prompt, keeping rendered prompts in a
 * bounded LRU keyed by everything the output depends on: template id and version, the resolved
 * variables, the connected integrations the template uses, whether there is a knowledge base, the
 * user's name and time zone and today's date there. A new version or a change of integrations
 * changes the key, so old entries are never reached again and age out. Per instance.
 */
export class PromptEngine {
  private readonly prompts: LRUCache<string, BuiltPrompt>;
  private readonly now: () => number;
  private hits = 0;
  private misses = 0;

  constructor(options: { maxEntries: number; now?: () => number }) {
    this.prompts = new LRUCache({ max: options.maxEntries });
    this.now = options.now ?? Date.now;
  }

  /** Resolves the variables (422 MISSING_VARIABLES / INVALID_VARIABLE) and renders, from the cache when it can. */
  generate(template: TemplateVersionRef, request: PromptRequest): GeneratedPrompt {
    const { compiled } = template;
    const { definition } = compiled;
    const variables = resolveVariables(definition.variables, request.variables);
    const named = new Set([...definition.integrations.required, ...definition.integrations.optional]);
    const connected = [...new Set(request.connected)].filter((p) => named.has(p)).sort();
    const date = dateIn(request.user.timezone, this.now());
    const key = createHash('sha256')
      .update(
        JSON.stringify([
          template.id,
          template.version,
          variables,
          connected,
          request.knowledgeBase,
          request.user.name,
          request.user.timezone,
          date,
        ]),
      )
      .digest('base64url');
    let built = this.prompts.get(key);
    const cache = built ? 'hit' : 'miss';
    if (built) this.hits++;
    else {
      this.misses++;
      built = buildPrompt(compiled, {
        variables,
        connected: new Set(connected),
        knowledgeBase: request.knowledgeBase,
        user: request.user,
        date,
      });
      this.prompts.set(key, built);
    }
    return {
      ...built,
      tools: [...built.tools],
      missingIntegrations: [...built.missingIntegrations],
      variables,
      templateVersion: template.version,
      cache,
    };
  }

  stats(): PromptCacheStats {
    return { hits: this.hits, misses: this.misses, entries: this.prompts.size };
  }
}
