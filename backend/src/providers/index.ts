/*
 * The provider factory's public surface: language models and embedders by `provider:model`.
 * Any export added here becomes public API for the other areas; named exports only.
 */

// Embedders.
export { createEmbedder, type Embedder, type EmbedderSettings } from './embedders.ts';
export { contentWords, hashingEmbedding, lightStem, localHashingDimensions } from './local-hashing-embedder.ts';
export type { ModelEndpoint, OpenAiSettings } from './model-servers.ts';
export { retryAfterMs, withRetries, type RetryDecision, type RetryPolicy } from './retry.ts';

// Language models.
export { createLanguageModels, type ConfiguredModel, type LanguageModelSettings, type LanguageModels } from './language-models.ts';

export { ContextWindows, type ContextBudget, type ContextWindowSettings } from './context-windows.ts';
export { ModelCatalogue, type ListedModel, type ListedProvider, type ModelListing } from './model-catalogue.ts';

// Model ids, for language models and embedders alike.
export {
  configuredProviders,
  embeddingModelKind,
  endpointNamePattern,
  modelIdPattern,
  modelIdProblem,
  offlineModelId,
  parseModelId,
  reservedProviderNames,
  type ParsedModelId,
} from './model-id.ts';
export { loadModelPrices, ModelPrices, type ModelCost, type ModelPrice, type TokenUsage } from './model-prices.ts';
export { messageOverheadTokens, messageTokenCount, promptTokenCount, tokenCount } from './token-count.ts';

// What a template session's prompt tells a model (and the offline responder) about its steps.
export { readRunPlan, runPlanBlock, type RunPlan } from './run-plan.ts';
export { buildToolInput, type ToolInputContext } from './tool-input.ts';
