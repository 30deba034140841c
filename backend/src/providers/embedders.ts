import { AppError } from '../errors.ts';
import type { Embedder } from './embedder.ts';
import { createLocalHashingEmbedder } from './local-hashing-embedder.ts';
import { createOpenAiEmbedder, type OpenAiSettings } from './openai-embedder.ts';
import type { RetryPolicy } from './retry.ts';

export type { Embedder } from './embedder.ts';

export interface EmbedderSettings {
  openai: OpenAiSettings;
  /** The vector length of a compatible server's model, when it is not one we know. */
  dimensions?: number | undefined;
  retry: RetryPolicy;
}

/** `provider:model` names: `local:hashing`, `openai:<model>`. */
export const embedderNamePattern = /^(local|openai):[A-Za-z0-9._/-]{1,100}$/;

/**
 * The embedding half of the provider factory: an embedder by its `provider:model` name. Resolves
 * once the model's dimensions are known (a compatible server's model is asked once).
 */
export async function createEmbedder(name: string, settings: EmbedderSettings): Promise<Embedder> {
  const separator = name.indexOf(':');
  const provider = name.slice(0, separator);
  const model = name.slice(separator + 1);
  if (!embedderNamePattern.test(name)) {
    throw new AppError(
      'CONFIG_INVALID',
      `"${name}" is not an embedding model name: use provider:model, e.g. local:hashing or openai:text-embedding-3-small.`,
    );
  }
  if (provider === 'openai')
    return createOpenAiEmbedder(model, settings.openai, { dimensions: settings.dimensions, retry: settings.retry });
  if (model === 'hashing') return createLocalHashingEmbedder();
  throw new AppError('CONFIG_INVALID', `There is no local embedding model "${model}"; the local one is local:hashing.`);
}
