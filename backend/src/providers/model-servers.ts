import { createAnthropic, type AnthropicProvider } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI, type GoogleGenerativeAIProvider } from '@ai-sdk/google';
import { createOpenAI, type OpenAIProvider } from '@ai-sdk/openai';
import { createOpenAICompatible, type OpenAICompatibleProvider } from '@ai-sdk/openai-compatible';

/*
 * The servers remote models run on, as AI SDK providers: built here once, so a language model and
 * an embedding model named `<provider>:<model>` reach the same server the same way.
 */

export interface OpenAiSettings {
  apiKey: string | undefined;
  /** An OpenAI-compatible server; default the OpenAI API. */
  baseUrl: string | undefined;
}

/** A vendor with its own API (Anthropic, Google): a key, and a base URL for a proxy or a local stand-in. */
export interface NativeProviderSettings {
  apiKey: string | undefined;
  /** Up to and including the API version, e.g. `https://api.anthropic.com/v1`; default the vendor's API. */
  baseUrl: string | undefined;
}

/** A named OpenAI-compatible server (Ollama, vLLM, LM Studio, …), addressed as `<name>:<model>`. */
export interface ModelEndpoint {
  name: string;
  /** Up to and including the API version, e.g. `http://localhost:11434/v1`. */
  baseUrl: string;
  apiKey?: string | undefined;
}

/**
 * The `openai:` provider. Without a key (a compatible server behind OPENAI_BASE_URL) it sends an
 * empty bearer token; callers build it only when a key or a base URL is set (configuredProviders).
 */
export function openAiProvider(settings: OpenAiSettings): OpenAIProvider {
  return createOpenAI({ apiKey: settings.apiKey ?? '', baseURL: settings.baseUrl ?? 'https://api.openai.com/v1' });
}

/**
 * A named endpoint's provider. It uses the compatible provider rather than the OpenAI one: it
 * sends the plain Chat Completions request (system role, max_tokens) instead of the shapes
 * OpenAI's own reasoning models need, reads the `reasoning_content` these servers stream, and
 * sends no Authorization header when the endpoint has no key.
 */
export function endpointProvider(endpoint: ModelEndpoint): OpenAICompatibleProvider {
  return createOpenAICompatible({
    name: endpoint.name,
    baseURL: endpoint.baseUrl,
    includeUsage: true,
    ...(endpoint.apiKey ? { apiKey: endpoint.apiKey } : {}),
  });
}

/**
 * The `anthropic:` provider: the Messages API, streamed. The key is always passed (empty when only
 * a base URL is set), so the AI SDK never falls back to reading the process environment itself:
 * what is configured is what is used.
 */
export function anthropicProvider(settings: NativeProviderSettings): AnthropicProvider {
  return createAnthropic({ apiKey: settings.apiKey ?? '', baseURL: settings.baseUrl ?? 'https://api.anthropic.com/v1' });
}

/** The `google:` provider: the Gemini API (`streamGenerateContent?alt=sse`), with the same rule for its key. */
export function googleProvider(settings: NativeProviderSettings): GoogleGenerativeAIProvider {
  return createGoogleGenerativeAI({
    apiKey: settings.apiKey ?? '',
    baseURL: settings.baseUrl ?? 'https://generativelanguage.googleapis.com/v1beta',
  });
}
