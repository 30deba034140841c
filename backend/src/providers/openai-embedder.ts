import { createOpenAI } from '@ai-sdk/openai';
import { APICallError, embedMany } from 'ai';
import { AppError } from '../errors.ts';
import type { Embedder } from './embedder.ts';
import { retryAfterMs, withRetries, type RetryPolicy } from './retry.ts';

export interface OpenAiSettings {
  apiKey: string | undefined;
  /** An OpenAI-compatible server; default the OpenAI API. */
  baseUrl: string | undefined;
}

/** Dimensions of the OpenAI models we know; any other model says its own on the first call. */
const knownDimensions: Record<string, number> = {
  'text-embedding-3-small': 1536,
  'text-embedding-ada-002': 1536,
};

/**
 * Embeddings from OpenAI, or from any server that speaks its embeddings API. Batches stay well
 * inside the API's limits (2,048 inputs and 300,000 tokens a request: 128 chunks of at most a few
 * thousand tokens). 429 and 5xx answers, and failed connections, are retried with backoff; after
 * the last try the caller gets `EMBEDDING_API_ERROR`.
 */
export async function createOpenAiEmbedder(
  model: string,
  settings: OpenAiSettings,
  options: { dimensions?: number | undefined; retry: RetryPolicy },
): Promise<Embedder> {
  if (!settings.apiKey) {
    throw new AppError(
      'CONFIG_INVALID',
      `The embedding model openai:${model} needs OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server).`,
    );
  }
  const provider = createOpenAI({ apiKey: settings.apiKey, ...(settings.baseUrl ? { baseURL: settings.baseUrl } : {}) });
  const embeddingModel = provider.embedding(model);
  const name = `openai:${model}`;

  async function embed(texts: string[], callOptions: { signal?: AbortSignal } = {}): Promise<number[][]> {
    try {
      return await withRetries(
        options.retry,
        async () => {
          const { embeddings } = await embedMany({
            model: embeddingModel,
            values: texts,
            maxRetries: 0,
            ...(callOptions.signal ? { abortSignal: callOptions.signal } : {}),
          });
          return embeddings;
        },
        (error) => {
          if (!APICallError.isInstance(error)) return { retry: !callOptions.signal?.aborted };
          const status = error.statusCode ?? 0;
          const afterMs = retryAfterMs(error.responseHeaders);
          return { retry: status === 429 || status >= 500 || status === 0, ...(afterMs !== undefined ? { afterMs } : {}) };
        },
        callOptions.signal ? { signal: callOptions.signal } : {},
      );
    } catch (error) {
      if (callOptions.signal?.aborted) throw error;
      const status = APICallError.isInstance(error) ? error.statusCode : undefined;
      throw new AppError(
        'EMBEDDING_API_ERROR',
        `The embedding service (${name}) failed${status ? ` with HTTP ${status}` : ''}: ${(error as Error).message}`,
        { details: { model: name, ...(status ? { status } : {}) }, cause: error },
      );
    }
  }

  let dimensions = options.dimensions ?? knownDimensions[model];
  if (dimensions === undefined) {
    const [probe] = await embed(['dimension probe']);
    dimensions = probe!.length;
  }
  return { name, dimensions, maxBatchSize: 128, embed };
}
