/*
 * Language model ids are `provider:model`. The provider is `local`, `openai`, or the name of an
 * OpenAI-compatible endpoint from MODEL_ENDPOINTS; the model is whatever that provider calls it.
 * Only the first colon separates them, because compatible servers use colons in model names
 * (`ollama:llama3.1:8b` is the model `llama3.1:8b` on the endpoint `ollama`).
 */

/** What a well-formed id looks like; whether its provider is configured is a separate question. */
export const modelIdPattern = /^[a-z][a-z0-9-]{0,31}:[A-Za-z0-9._:/@+-]{1,200}$/;

/** Names an OpenAI-compatible endpoint may take: short, lower case, usable before the colon. */
export const endpointNamePattern = /^[a-z][a-z0-9-]{0,31}$/;

/** Providers built in; an endpoint may not take their names. */
export const reservedProviderNames: readonly string[] = ['local', 'openai'];

/** The one local language model. */
export const offlineModelId = 'local:offline';

export interface ParsedModelId {
  provider: string;
  model: string;
}

/** Splits at the first colon. Undefined when the id is not `provider:model`. */
export function parseModelId(id: string): ParsedModelId | undefined {
  if (!modelIdPattern.test(id)) return undefined;
  const separator = id.indexOf(':');
  return { provider: id.slice(0, separator), model: id.slice(separator + 1) };
}

/** What is configured, as far as resolving an id is concerned. */
export interface ConfiguredProviders {
  openai: boolean;
  endpoints: readonly string[];
}

/** Providers an id can name right now, each as `provider:<model>` (or the one local model). */
export function configuredModelHints(providers: ConfiguredProviders): string[] {
  return [offlineModelId, ...(providers.openai ? ['openai:<model>'] : []), ...providers.endpoints.map((name) => `${name}:<model>`)];
}

/**
 * Why an id cannot be resolved, in words a person can act on, or undefined when it can. Shared by
 * the configuration check of DEFAULT_MODEL and by the factory, so a start and a request refuse the
 * same ids with the same message.
 */
export function modelIdProblem(id: string, providers: ConfiguredProviders): string | undefined {
  const configured = `Configured: ${configuredModelHints(providers).join(', ')}.`;
  const parsed = parseModelId(id);
  if (!parsed) {
    const hint = !id.includes(':') && providers.openai ? ` (did you mean openai:${id}?)` : '';
    return `"${id}" is not a model id${hint}: use provider:model, e.g. local:offline or openai:gpt-4o-mini. ${configured}`;
  }
  const { provider, model } = parsed;
  if (provider === 'local') {
    return model === 'offline' ? undefined : `There is no local model "${model}"; the local one is ${offlineModelId}. ${configured}`;
  }
  if (provider === 'openai') {
    return providers.openai
      ? undefined
      : `The model "${id}" needs OPENAI_API_KEY (or OPENAI_BASE_URL for an OpenAI-compatible server without a key), or name an endpoint from MODEL_ENDPOINTS instead. ${configured}`;
  }
  if (providers.endpoints.includes(provider)) return undefined;
  return `Unknown model "${id}": there is no provider "${provider}". Add it to MODEL_ENDPOINTS as ${provider}=<base URL> to use it. ${configured}`;
}
