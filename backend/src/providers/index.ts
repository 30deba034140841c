/*
 * The provider factory's public surface: language models and embedders by `provider:model`.
 * Any export added here becomes public API for the other areas; named exports only.
 */

// Embedders.
export { createEmbedder, embedderNamePattern, type Embedder, type EmbedderSettings } from './embedders.ts';
export { contentWords, hashingEmbedding, lightStem, localHashingDimensions } from './local-hashing-embedder.ts';
export type { OpenAiSettings } from './openai-embedder.ts';
export { retryAfterMs, withRetries, type RetryDecision, type RetryPolicy } from './retry.ts';

// Language models.
export {
  createLanguageModels,
  type ConfiguredModel,
  type LanguageModelSettings,
  type LanguageModels,
  type ModelEndpoint,
} from './language-models.ts';
export {
  endpointNamePattern,
  modelIdPattern,
  modelIdProblem,
  offlineModelId,
  parseModelId,
  reservedProviderNames,
  type ParsedModelId,
} from './model-id.ts';
export { costOf, openAiPrices, priceOf, type ModelPrice, type TokenUsage } from './model-prices.ts';
export { promptTokenCount, tokenCount } from './token-count.ts';
