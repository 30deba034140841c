import type { LanguageModelV3 } from '@ai-sdk/provider';
import { AppError } from '../errors.ts';
import { configuredModelHints, configuredProviders, modelIdProblem, offlineModelId, parseModelId } from './model-id.ts';
import {
  anthropicProvider,
  endpointProvider,
  googleProvider,
  openAiProvider,
  type ModelEndpoint,
  type NativeProviderSettings,
  type OpenAiSettings,
} from './model-servers.ts';
import { ModelPrices } from './model-prices.ts';
import { OfflineLanguageModel } from './offline-model.ts';
import { ResilientLanguageModel } from './resilient-language-model.ts';
import type { RetryPolicy } from './retry.ts';

export interface LanguageModelSettings {
  /** What sessions use when they name no model; must resolve. */
  defaultModel: string;
  /** `openai:` models are available when it has a key or a base URL. */
  openai: OpenAiSettings;
  /** `anthropic:` and `google:` models are available when theirs has a key or a base URL. */
  anthropic?: NativeProviderSettings | undefined;
  google?: NativeProviderSettings | undefined;
  endpoints: ModelEndpoint[];
  /**
   * What each model costs; a model with none is counted at the default price (estimated). The
   * configuration always sets it (config/model-prices.yaml); without it (a caller that counts no
   * money) every remote model's cost is an estimate of zero.
   */
  prices?: ModelPrices | undefined;
  /** Stall timeout per call: for the response to start and between streamed chunks. */
  timeoutMs: number;
  retry: RetryPolicy;
}

/** A provider that is configured, as the console and the API show it (never a key or URL). */
export interface ConfiguredModel {
  /** Set when the provider has a fixed model; otherwise any `<provider>:<model>` works. */
  id?: string;
  provider: string;
  description: string;
}

export interface LanguageModels {
  /** The model for an id, or `UNKNOWN_MODEL` (400) naming what is configured and how to add more. */
  resolve(id: string): LanguageModelV3;
  list(): ConfiguredModel[];
  defaultModel: string;
  prices: ModelPrices;
}

/**
 * The language-model half of the provider factory: every model the loop can use, local or
 * remote, as an AI SDK `LanguageModelV3`, so the loop has one code path (`streamText`). Remote
 * models carry the retry and stall-timeout policy themselves (see ResilientLanguageModel); the
 * local one needs neither. Throws `CONFIG_INVALID` when the default model cannot be resolved, so
 * a bad configuration fails at start rather than at the first session.
 */
export function createLanguageModels(settings: LanguageModelSettings): LanguageModels {
  const providers = configuredProviders(settings);
  const openaiConfigured = providers.openai;
  const defaultProblem = modelIdProblem(settings.defaultModel, providers);
  if (defaultProblem) throw new AppError('CONFIG_INVALID', `DEFAULT_MODEL: ${defaultProblem}`);

  const policy = { timeoutMs: settings.timeoutMs, retry: settings.retry };
  const offline = new OfflineLanguageModel();
  // openai: speaks Chat Completions (`.chat`), the API every compatible server implements too.
  const openai = openaiConfigured ? openAiProvider(settings.openai) : undefined;
  const anthropic = settings.anthropic && providers.anthropic ? anthropicProvider(settings.anthropic) : undefined;
  const google = settings.google && providers.google ? googleProvider(settings.google) : undefined;
  const endpoints = new Map(settings.endpoints.map((endpoint) => [endpoint.name, endpointProvider(endpoint)]));

  // Models hold only their configuration: one per id serves every turn (bounded: ids come from sessions).
  const resolved = new Map<string, LanguageModelV3>();
  function resolve(id: string): LanguageModelV3 {
    let model = resolved.get(id);
    if (!model) {
      model = build(id);
      if (resolved.size >= 256) resolved.delete(resolved.keys().next().value!);
      resolved.set(id, model);
    }
    return model;
  }

  function build(id: string): LanguageModelV3 {
    const problem = modelIdProblem(id, providers);
    const parsed = parseModelId(id);
    if (problem || !parsed) {
      throw new AppError('UNKNOWN_MODEL', problem, {
        details: {
          model: id,
          availableProviders: [
            'local',
            ...(openaiConfigured ? ['openai'] : []),
            ...(providers.anthropic ? ['anthropic'] : []),
            ...(providers.google ? ['google'] : []),
            ...providers.endpoints,
          ],
          configured: configuredModelHints(providers),
        },
      });
    }
    if (parsed.provider === 'local') return offline;
    const remote =
      parsed.provider === 'openai'
        ? openai?.chat(parsed.model)
        : parsed.provider === 'anthropic'
          ? anthropic?.messages(parsed.model)
          : parsed.provider === 'google'
            ? google?.chat(parsed.model)
            : endpoints.get(parsed.provider)?.chatModel(parsed.model);
    if (!remote) throw new AppError('INTERNAL', `The provider of ${id} was validated but not built.`);
    return new ResilientLanguageModel(remote, parsed, policy);
  }

  function list(): ConfiguredModel[] {
    return [
      {
        id: offlineModelId,
        provider: 'local',
        description: 'Offline responder: not a language model. Calls tools on request and quotes the knowledge base.',
      },
      ...(openaiConfigured
        ? [
            {
              provider: 'openai',
              description: `OpenAI Chat Completions${settings.openai.baseUrl ? ' (compatible server)' : ''}: use openai:<model>, e.g. openai:gpt-4o-mini.`,
            },
          ]
        : []),
      ...(providers.anthropic
        ? [{ provider: 'anthropic', description: 'Anthropic Messages API: use anthropic:<model>, e.g. anthropic:claude-sonnet-4-5.' }]
        : []),
      ...(providers.google
        ? [{ provider: 'google', description: 'Google Gemini API: use google:<model>, e.g. google:gemini-2.5-flash.' }]
        : []),
      ...settings.endpoints.map((e) => ({
        provider: e.name,
        description: `OpenAI-compatible endpoint "${e.name}": use ${e.name}:<model>.`,
      })),
    ];
  }

  const prices = settings.prices ?? new ModelPrices(new Map(), { input: 0, output: 0 }, undefined);
  return { resolve, list, defaultModel: settings.defaultModel, prices };
}
