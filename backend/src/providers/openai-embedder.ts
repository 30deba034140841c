import { APICallError, embedMany } from 'ai';
import { AppError } from '../errors.ts';
import type { Embedder } from './embedder.ts';
import { endpointProvider, openAiProvider, type ModelEndpoint, type OpenAiSettings } from './model-servers.ts';
import { retryAfterMs, withRetries, type RetryPolicy } from './retry.ts';

/** The most dimensions pgvector's HNSW index takes for a `vector` column. */
const maxIndexedDimensions = 2000;

/** The server an embedder calls: OpenAI (or OPENAI_BASE_URL), or a named endpoint from MODEL_ENDPOINTS. */
export type EmbeddingServer = { provider: 'openai'; settings: OpenAiSettings } | { provider: 'endpoint'; endpoint: ModelEndpoint };

/** Dimensions of the OpenAI models we know; any other model says its own on the first call. */
const knownDimensions: Record<string, number> = {
  'text-embedding-3-small': 1536,
  'text-embedding-ada-002': 1536,
};

/**
 * Embeddings from OpenAI, or from any server that speaks its embeddings API (`openai:` with
 * OPENAI_BASE_URL, or an endpoint of MODEL_ENDPOINTS, with or without a key). Batches stay well
 * inside the API's limits (2,048 inputs and 300,000 tokens a request: 128 chunks of at most a few
 * thousand tokens). 429 and 5xx answers, and failed connections, are retried with backoff; after
 * the last try the caller gets `EMBEDDING_API_ERROR`.
 * The caller checks that the server is configured (modelIdProblem).
 */
export async function createOpenAiEmbedder(
  server: EmbeddingServer,
  model: string,
  options: { dimensions?: number | undefined; retry: RetryPolicy },
): Promise<Embedder> {
  const embeddingModel =
    server.provider === 'openai'
      ? openAiProvider(server.settings).embedding(model)
      : endpointProvider(server.endpoint).embeddingModel(model);
  const name = `${server.provider === 'openai' ? 'openai' : server.endpoint.name}:${model}`;

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

  // A model we do not know (every endpoint model) says its length on a first call, once per
  // process; EMBEDDING_DIMENSIONS saves that call.
  let dimensions = options.dimensions ?? (server.provider === 'openai' ? knownDimensions[model] : undefined);
  if (dimensions === undefined) {
    const [probe] = await embed(['dimension probe']);
    dimensions = probe!.length;
  }
  // pgvector's HNSW index takes vectors of at most 2,000 dimensions (its `vector` type).
  if (dimensions > maxIndexedDimensions)
    throw new AppError(
      'CONFIG_INVALID',
      `The embedding model ${name} gives vectors of ${dimensions} dimensions; the knowledge base indexes at most ${maxIndexedDimensions}. Set EMBEDDING_DIMENSIONS (for models that can shorten their vectors) or choose another model.`,
      { details: { problems: [`EMBEDDING_MODEL: ${dimensions} dimensions, over ${maxIndexedDimensions}`] } },
    );
  return { name, dimensions, maxBatchSize: 128, embed };
}
