import { z } from 'zod';
import { knownModels } from './known-models.ts';
import type { LanguageModelSettings } from './language-models.ts';
import { configuredProviders, offlineModelId } from './model-id.ts';
import type { ModelPrice, ModelPrices } from './model-prices.ts';
import type { ModelEndpoint } from './model-servers.ts';

/** One model the installation can use, as the model list shows it. */
export interface ListedModel {
  id: string;
  /** Tokens the model reads at most, when the vendor or the server says. */
  contextWindow: number | null;
  /** USD per million tokens: the table's, or the default price (`priceEstimated`). */
  price: ModelPrice;
  priceEstimated: boolean;
}

/** A configured provider and its models; an endpoint that did not answer is `unreachable`, with why. */
export interface ListedProvider {
  provider: string;
  kind: 'local' | 'openai' | 'anthropic' | 'google' | 'endpoint';
  status: 'ok' | 'unreachable';
  error: string | null;
  models: ListedModel[];
}

export interface ModelListing {
  defaultModel: string;
  providers: ListedProvider[];
}

/** What a compatible server's GET /models answers (OpenAI's list shape; vLLM adds max_model_len). */
const modelList = z.object({
  data: z
    .array(
      z.looseObject({
        id: z.string().min(1).max(200),
        max_model_len: z.number().int().positive().optional(),
        context_length: z.number().int().positive().optional(),
      }),
    )
    .max(1000),
});

const maxListBytes = 1_000_000;

export interface ModelCatalogueOptions {
  /** How long an endpoint's list (or its failure) is kept before the endpoint is asked again. */
  cacheMs?: number;
  /** How long an endpoint may take to answer its list. */
  timeoutMs?: number;
  now?: () => number;
}

/**
 * The models this installation can use, for people choosing one: the local model, the known models
 * of each configured vendor, and what each MODEL_ENDPOINTS server lists at its `/models`, with
 * context window and price where known. Endpoint lists are fetched on demand and cached briefly
 * (per instance); an endpoint that fails is shown as unreachable, never as an error of the list.
 * Endpoints are administrator-configured, so they are asked the way model calls reach them.
 */
export class ModelCatalogue {
  private readonly cache = new Map<string, { until: number; listing: Promise<ListedProvider> }>();
  private readonly cacheMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly settings: LanguageModelSettings,
    private readonly prices: ModelPrices,
    options: ModelCatalogueOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? Math.min(5000, settings.timeoutMs);
    this.now = options.now ?? Date.now;
  }

  async list(): Promise<ModelListing> {
    const configured = configuredProviders(this.settings);
    const builtIn = (['openai', 'anthropic', 'google'] as const)
      .filter((vendor) => configured[vendor])
      .map((vendor) => this.provider(vendor, vendor, Object.entries(knownModels[vendor])));
    const endpoints = await Promise.all(this.settings.endpoints.map((endpoint) => this.endpoint(endpoint)));
    return {
      defaultModel: this.settings.defaultModel,
      providers: [this.provider('local', 'local', [[offlineModelId.slice('local:'.length), null]]), ...builtIn, ...endpoints],
    };
  }

  /**
   * The context window an endpoint's model list gives for a model, from the cached list (fetched
   * when there is none); null for a model no endpoint lists with one, or an endpoint that is down.
   */
  async reportedWindow(modelId: string): Promise<number | null> {
    const endpoint = this.settings.endpoints.find((e) => modelId.startsWith(`${e.name}:`));
    if (!endpoint) return null;
    const listing = await this.endpoint(endpoint);
    return listing.models.find((m) => m.id === modelId)?.contextWindow ?? null;
  }

  private provider(provider: string, kind: ListedProvider['kind'], models: Array<[string, number | null]>): ListedProvider {
    return {
      provider,
      kind,
      status: 'ok',
      error: null,
      models: models.map(([model, window]) => this.model(`${provider}:${model}`, window)),
    };
  }

  private model(id: string, contextWindow: number | null): ListedModel {
    const price = this.prices.priceOf(id);
    return { id, contextWindow, price: price ?? this.prices.defaultPrice, priceEstimated: price === undefined };
  }

  private endpoint(endpoint: ModelEndpoint): Promise<ListedProvider> {
    const cached = this.cache.get(endpoint.name);
    if (cached && cached.until > this.now()) return cached.listing;
    const listing = this.fetchModels(endpoint).then(
      (models) => this.provider(endpoint.name, 'endpoint', models),
      (error: unknown): ListedProvider => ({
        provider: endpoint.name,
        kind: 'endpoint',
        status: 'unreachable',
        error: this.reason(error),
        models: [],
      }),
    );
    this.cache.set(endpoint.name, { until: this.now() + this.cacheMs, listing });
    return listing;
  }

  /** Why an endpoint is unreachable, in words that name no host or address: every user reads it. */
  private reason(error: unknown): string {
    if (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError'))
      return `no answer within ${this.timeoutMs} ms`;
    if (error instanceof SyntaxError) return 'GET /models did not answer JSON';
    if (error instanceof ListError) return error.message;
    return 'the connection failed';
  }

  private async fetchModels(endpoint: ModelEndpoint): Promise<Array<[string, number | null]>> {
    const response = await fetch(`${endpoint.baseUrl}/models`, {
      headers: { accept: 'application/json', ...(endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {}) },
      signal: AbortSignal.timeout(this.timeoutMs),
      redirect: 'error',
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new ListError(`GET /models answered HTTP ${response.status}`);
    }
    const text = await readCapped(response, maxListBytes);
    const parsed = modelList.safeParse(JSON.parse(text));
    if (!parsed.success) throw new ListError('GET /models did not answer a model list');
    return parsed.data.data.map((m) => [m.id, m.max_model_len ?? m.context_length ?? null]);
  }
}

/** A list the endpoint answered but that is not one we can use; its message names no host. */
class ListError extends Error {}

/** The body as text, refused once it passes `limit` bytes (a list is small; a larger answer is not one). */
async function readCapped(response: Response, limit: number): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new ListError(`GET /models answered more than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
