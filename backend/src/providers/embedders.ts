import { AppError } from '../errors.ts';
import type { Embedder } from './embedder.ts';
import { createLocalHashingEmbedder } from './local-hashing-embedder.ts';
import { configuredProviders, embeddingModelKind, modelIdProblem, parseModelId } from './model-id.ts';
import type { ModelEndpoint, OpenAiSettings } from './model-servers.ts';
import { createOpenAiEmbedder } from './openai-embedder.ts';
import type { RetryPolicy } from './retry.ts';

export type { Embedder } from './embedder.ts';

export interface EmbedderSettings {
  openai: OpenAiSettings;
  /** The OpenAI-compatible servers of MODEL_ENDPOINTS, the same list language models use. */
  endpoints: ModelEndpoint[];
  /** The vector length of a compatible server's model, when it is not one we know. */
  dimensions?: number | undefined;
  retry: RetryPolicy;
}

/**
 * The embedding half of the provider factory: an embedder by its `provider:model` name
 * (`local:hashing`, `openai:<model>`, or `<endpoint>:<model>` for an endpoint of MODEL_ENDPOINTS),
 * resolved by the same rules as language model ids. Resolves once the model's dimensions are known
 * (a model we do not know is asked once); a name nothing configured serves is `CONFIG_INVALID`.
 */
export async function createEmbedder(name: string, settings: EmbedderSettings): Promise<Embedder> {
  const problem = modelIdProblem(name, configuredProviders(settings), embeddingModelKind);
  const parsed = parseModelId(name);
  if (problem || !parsed) throw new AppError('CONFIG_INVALID', problem);
  const options = { dimensions: settings.dimensions, retry: settings.retry };
  if (parsed.provider === 'local') return createLocalHashingEmbedder();
  if (parsed.provider === 'openai') return createOpenAiEmbedder({ provider: 'openai', settings: settings.openai }, parsed.model, options);
  const endpoint = settings.endpoints.find((e) => e.name === parsed.provider);
  if (!endpoint) throw new AppError('INTERNAL', `The provider of ${name} was validated but not found.`);
  return createOpenAiEmbedder({ provider: 'endpoint', endpoint }, parsed.model, options);
}
