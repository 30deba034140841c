import type { LanguageModelV3 } from '@ai-sdk/provider';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { AppError } from '../errors.ts';
import { configuredModelHints, modelIdProblem, offlineModelId, parseModelId, type ConfiguredProviders } from './model-id.ts';
import { OfflineLanguageModel } from './offline-model.ts';
import type { OpenAiSettings } from './openai-embedder.ts';
import { ResilientLanguageModel } from './resilient-language-model.ts';
import type { RetryPolicy } from './retry.ts';

/** A named OpenAI-compatible server (Ollama, vLLM, LM Studio, …), addressed as `<name>:<model>`. */
export interface ModelEndpoint {
  name: string;
  /** Up to and including the API version, e.g. `http://localhost:11434/v1`. */
  baseUrl: string;
  apiKey?: string | undefined;
}

export interface LanguageModelSettings {
  /** What sessions use when they name no model; must resolve. */
  defaultModel: string;
  /** `openai:` models are available when it has a key or a base URL. */
  openai: OpenAiSettings;
  endpoints: ModelEndpoint[];
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
}

/**
 * The language-model half of the provider factory: every model the loop can use, local or
 * remote, as an AI SDK `LanguageModelV3`, so the loop has one code path (`streamText`). Remote
 * models carry the retry and stall-timeout policy themselves (see ResilientLanguageModel); the
 * local one needs neither. Throws `CONFIG_INVALID` when the default model cannot be resolved, so
 * a bad configuration fails at start rather than at the first session.
 */
export function createLanguageModels(settings: LanguageModelSettings): LanguageModels {
  const openaiConfigured = Boolean(settings.openai.apiKey || settings.openai.baseUrl);
  const providers: ConfiguredProviders = { openai: openaiConfigured, endpoints: settings.endpoints.map((e) => e.name) };
  const defaultProblem = modelIdProblem(settings.defaultModel, providers);
  if (defaultProblem) throw new AppError('CONFIG_INVALID', `DEFAULT_MODEL: ${defaultProblem}`);

  const policy = { timeoutMs: settings.timeoutMs, retry: settings.retry };
  const offline = new OfflineLanguageModel();
  // openai: speaks Chat Completions (`.chat`), the API every compatible server implements too.
  // Without a key (a compatible server behind OPENAI_BASE_URL) it sends an empty bearer token.
  const openai = openaiConfigured
    ? createOpenAI({ apiKey: settings.openai.apiKey ?? '', baseURL: settings.openai.baseUrl ?? 'https://api.openai.com/v1' })
    : undefined;
  // Named endpoints use the compatible provider rather than the OpenAI one: it sends the plain
  // Chat Completions request (system role, max_tokens) instead of the shapes OpenAI's own
  // reasoning models need, reads the `reasoning_content` these servers stream, and sends no
  // Authorization header when the endpoint has no key.
  const endpoints = new Map(
    settings.endpoints.map((endpoint) => [
      endpoint.name,
      createOpenAICompatible({
        name: endpoint.name,
        baseURL: endpoint.baseUrl,
        includeUsage: true,
        ...(endpoint.apiKey ? { apiKey: endpoint.apiKey } : {}),
      }),
    ]),
  );

  function resolve(id: string): LanguageModelV3 {
    const problem = modelIdProblem(id, providers);
    const parsed = parseModelId(id);
    if (problem || !parsed) {
      throw new AppError('UNKNOWN_MODEL', problem, {
        details: {
          model: id,
          availableProviders: ['local', ...(openaiConfigured ? ['openai'] : []), ...providers.endpoints],
          configured: configuredModelHints(providers),
        },
      });
    }
    if (parsed.provider === 'local') return offline;
    const remote = parsed.provider === 'openai' ? openai?.chat(parsed.model) : endpoints.get(parsed.provider)?.chatModel(parsed.model);
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
      ...settings.endpoints.map((e) => ({
        provider: e.name,
        description: `OpenAI-compatible endpoint "${e.name}": use ${e.name}:<model>.`,
      })),
    ];
  }

  return { resolve, list, defaultModel: settings.defaultModel };
}
