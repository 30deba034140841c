/*
 * Model ids (language models and embedding models alike) are `provider:model`. The provider is
 * `local`, `openai`, `anthropic`, `google`, or the name of an OpenAI-compatible endpoint from
 * MODEL_ENDPOINTS; the model
 * is whatever that provider calls it.
 * Only the first colon separates them, because compatible servers use colons in model names
 * (`ollama:llama3.1:8b` is the model `llama3.1:8b` on the endpoint `ollama`).
 */

/** What a well-formed id looks like; whether its provider is configured is a separate question. */
export const modelIdPattern = /^[a-z][a-z0-9-]{0,31}:[A-Za-z0-9._:/@+-]{1,200}$/;

/** Names an OpenAI-compatible endpoint may take: short, lower case, usable before the colon. */
export const endpointNamePattern = /^[a-z][a-z0-9-]{0,31}$/;

/** Providers built in; an endpoint may not take their names. */
export const reservedProviderNames: readonly string[] = ['local', 'openai', 'anthropic', 'google'];

/** The vendors with a native provider (their own API, not Chat Completions), and the settings that enable each. */
export const nativeProviders = {
  anthropic: { key: 'ANTHROPIC_API_KEY', baseUrl: 'ANTHROPIC_BASE_URL', example: 'anthropic:claude-sonnet-4-5' },
  google: { key: 'GOOGLE_GENERATIVE_AI_API_KEY', baseUrl: 'GOOGLE_BASE_URL', example: 'google:gemini-2.5-flash' },
} as const;

export type NativeProvider = keyof typeof nativeProviders;

export function isNativeProvider(name: string): name is NativeProvider {
  return Object.hasOwn(nativeProviders, name);
}

/** The one local language model. */
export const offlineModelId = 'local:offline';

/** The one local embedding model. */
export const hashingModelId = 'local:hashing';

/** What kind of model an id names, for the checks and messages that differ between kinds. */
export interface ModelKind {
  /** How messages call it, with its article: "a model", "an embedding model". */
  article: 'a' | 'an';
  noun: string;
  /** The one `local:` model of this kind. */
  localModel: string;
  /** An `openai:` id to show as an example. */
  openaiExample: string;
}

export const languageModelKind: ModelKind = {
  article: 'a',
  noun: 'model',
  localModel: offlineModelId,
  openaiExample: 'openai:gpt-4o-mini',
};

export const embeddingModelKind: ModelKind = {
  article: 'an',
  noun: 'embedding model',
  localModel: hashingModelId,
  openaiExample: 'openai:text-embedding-3-small',
};

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
  anthropic: boolean;
  google: boolean;
  endpoints: readonly string[];
}

/** A provider's key and base URL, as the settings give them. */
interface ProviderAccess {
  apiKey: string | undefined;
  baseUrl: string | undefined;
}

/**
 * The one rule for what an id may name: `openai:`, `anthropic:` and `google:` models need a key or
 * a base URL (a proxy in front of the vendor may hold the key itself), and endpoints are the names
 * in MODEL_ENDPOINTS.
 */
export function configuredProviders(settings: {
  openai: ProviderAccess;
  anthropic?: ProviderAccess | undefined;
  google?: ProviderAccess | undefined;
  endpoints: ReadonlyArray<{ name: string }>;
}): ConfiguredProviders {
  const has = (access: ProviderAccess | undefined) => Boolean(access?.apiKey || access?.baseUrl);
  return {
    openai: has(settings.openai),
    anthropic: has(settings.anthropic),
    google: has(settings.google),
    endpoints: settings.endpoints.map((e) => e.name),
  };
}

/** Providers an id can name right now, each as `provider:<model>` (or the one local model). */
export function configuredModelHints(providers: ConfiguredProviders, kind: ModelKind = languageModelKind): string[] {
  const natives = kind === languageModelKind ? (['anthropic', 'google'] as const).filter((name) => providers[name]) : [];
  return [
    kind.localModel,
    ...(providers.openai ? ['openai:<model>'] : []),
    ...natives.map((name) => `${name}:<model>`),
    ...providers.endpoints.map((name) => `${name}:<model>`),
  ];
}

/**
 * Why an id cannot be resolved, in words a person can act on, or undefined when it can. Shared by
 * the configuration checks at start and by the factories, so a start and a request refuse the
 * same ids with the same message, for language models and embedding models alike.
 */
export function modelIdProblem(id: string, providers: ConfiguredProviders, kind: ModelKind = languageModelKind): string | undefined {
  const configured = `Configured: ${configuredModelHints(providers, kind).join(', ')}.`;
  const parsed = parseModelId(id);
  if (!parsed) {
    const hint = !id.includes(':') && providers.openai ? ` (did you mean openai:${id}?)` : '';
    return `"${id}" is not ${kind.article} ${kind.noun} id${hint}: use provider:model, e.g. ${kind.localModel} or ${kind.openaiExample}. ${configured}`;
  }
  const { provider, model } = parsed;
  if (provider === 'local') {
    return id === kind.localModel
      ? undefined
      : `There is no local ${kind.noun} "${model}"; the local one is ${kind.localModel}. ${configured}`;
  }
  if (provider === 'openai') {
    return providers.openai
      ? undefined
      : `The ${kind.noun} "${id}" needs OPENAI_API_KEY (or OPENAI_BASE_URL for an OpenAI-compatible server without a key), or name an endpoint from MODEL_ENDPOINTS instead. ${configured}`;
  }
  if (isNativeProvider(provider)) {
    const native = nativeProviders[provider];
    if (kind !== languageModelKind) return `${provider}: serves language models only here; choose another ${kind.noun}. ${configured}`;
    return providers[provider]
      ? undefined
      : `The ${kind.noun} "${id}" needs ${native.key} (or ${native.baseUrl} for a proxy that holds the key). ${configured}`;
  }
  if (providers.endpoints.includes(provider)) return undefined;
  return `Unknown ${kind.noun} "${id}": there is no provider "${provider}". Add it to MODEL_ENDPOINTS as ${provider}=<base URL> to use it. ${configured}`;
}
