import { parseModelId } from './model-id.ts';

/** USD per million tokens. `cachedInput` is what a prompt-cache hit costs instead of `input`. */
export interface ModelPrice {
  input: number;
  output: number;
  cachedInput?: number;
}

/**
 * List prices of OpenAI models for standard (not batch) requests, in USD per million tokens.
 * Prices as of 2026; update as needed from the vendor's pricing page: a missing or stale row only
 * makes a cost unknown (null) or wrong, never a call fail.
 */
export const openAiPrices: Readonly<Record<string, ModelPrice>> = {
  'gpt-4o': { input: 2.5, output: 10, cachedInput: 1.25 },
  'gpt-4o-mini': { input: 0.15, output: 0.6, cachedInput: 0.075 },
  'gpt-4.1': { input: 2, output: 8, cachedInput: 0.5 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6, cachedInput: 0.1 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4, cachedInput: 0.025 },
  'gpt-5': { input: 1.25, output: 10, cachedInput: 0.125 },
  'gpt-5-mini': { input: 0.25, output: 2, cachedInput: 0.025 },
  'gpt-5-nano': { input: 0.05, output: 0.4, cachedInput: 0.005 },
  o1: { input: 15, output: 60, cachedInput: 7.5 },
  o3: { input: 2, output: 8, cachedInput: 0.5 },
  'o3-mini': { input: 1.1, output: 4.4, cachedInput: 0.55 },
  'o4-mini': { input: 1.1, output: 4.4, cachedInput: 0.275 },
  'gpt-4-turbo': { input: 10, output: 30 },
  'gpt-3.5-turbo': { input: 0.5, output: 1.5 },
};

/** The usage fields a cost needs; the AI SDK's `LanguageModelUsage` has this shape. */
export interface TokenUsage {
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
  inputTokenDetails?: { cacheReadTokens?: number | undefined } | undefined;
}

/** A dated snapshot (`gpt-4o-2024-08-06`) costs what its model costs. */
const snapshotSuffix = /-\d{4}-\d{2}-\d{2}$/;

/** The price of a model by its `provider:model` id: 0 for local ones, undefined when unknown. */
export function priceOf(modelId: string): ModelPrice | undefined {
  const parsed = parseModelId(modelId);
  if (!parsed) return undefined;
  if (parsed.provider === 'local') return { input: 0, output: 0 };
  if (parsed.provider !== 'openai') return undefined;
  return openAiPrices[parsed.model] ?? openAiPrices[parsed.model.replace(snapshotSuffix, '')];
}

/**
 * What a call cost in USD, or null when the model's price is unknown (a self-hosted endpoint, a
 * model not in the table): an unknown cost is reported as unknown, never as free. Cached input
 * tokens are charged at the cached price when the table has one.
 */
export function costOf(modelId: string, usage: TokenUsage): number | null {
  const price = priceOf(modelId);
  if (!price) return null;
  const input = usage.inputTokens ?? 0;
  const cached = Math.min(input, usage.inputTokenDetails?.cacheReadTokens ?? 0);
  const cachedPrice = price.cachedInput ?? price.input;
  const dollars = ((input - cached) * price.input + cached * cachedPrice + (usage.outputTokens ?? 0) * price.output) / 1_000_000;
  return Math.round(dollars * 1e9) / 1e9;
}
