/**
 * An embedding model, by its `provider:model` name. The knowledge base stores every vector with
 * the name of the model that made it and only ever compares vectors of one model.
 */
export interface Embedder {
  /** `provider:model`, e.g. `local:hashing` or `openai:text-embedding-3-small`. */
  readonly name: string;
  /** Vector length; known before the first call. */
  readonly dimensions: number;
  /** How many texts one `embed` call may carry. */
  readonly maxBatchSize: number;
  embed(texts: string[], options?: { signal?: AbortSignal }): Promise<number[][]>;
}
