import { parseModelId, type LanguageModelSettings } from '../providers/index.ts';

/** What a model server is to the server: a provider sessions name, or the knowledge base's embedding model. */
export type HealthTargetKind = 'provider' | 'embedding';

/**
 * One thing the server depends on for models, and how to ask it whether it is there without
 * spending tokens: the models list of its server. `url` is absent for the local models, which
 * run in the process and are always there.
 */
export interface HealthTarget {
  /** A provider's name (`openai`, an endpoint of MODEL_ENDPOINTS) or the embedding model's id. */
  name: string;
  kind: HealthTargetKind;
  url?: string | undefined;
  /** Sent with the check (the key the model calls send); never shown. */
  headers: Record<string, string>;
}

const openAiDefaultBaseUrl = 'https://api.openai.com/v1';

/**
 * The targets for a configuration: every configured language-model provider (the local one
 * included) and the embedding model. Each remote one is checked with `GET <base URL>/models`,
 * which every OpenAI-compatible server (OpenAI, Ollama, vLLM, LM Studio) answers for free.
 */
export function modelHealthTargets(settings: { models: LanguageModelSettings; embeddingModel: string }): HealthTarget[] {
  const { models } = settings;
  const servers = new Map<string, { url: string; headers: Record<string, string> }>();
  if (models.openai.apiKey || models.openai.baseUrl) {
    servers.set('openai', {
      url: `${(models.openai.baseUrl ?? openAiDefaultBaseUrl).replace(/\/+$/, '')}/models`,
      headers: models.openai.apiKey ? { authorization: `Bearer ${models.openai.apiKey}` } : {},
    });
  }
  for (const endpoint of models.endpoints) {
    servers.set(endpoint.name, {
      url: `${endpoint.baseUrl.replace(/\/+$/, '')}/models`,
      headers: endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {},
    });
  }
  const providers: HealthTarget[] = [
    { name: 'local', kind: 'provider', headers: {} },
    ...[...servers].map(([name, server]) => ({ name, kind: 'provider' as const, ...server })),
  ];
  const embeddingProvider = parseModelId(settings.embeddingModel)?.provider;
  const embeddingServer = embeddingProvider === undefined ? undefined : servers.get(embeddingProvider);
  return [...providers, { name: settings.embeddingModel, kind: 'embedding', headers: {}, ...embeddingServer }];
}
