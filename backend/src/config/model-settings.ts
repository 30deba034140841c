import { z } from 'zod';
import { modelIdPattern } from '../providers/index.ts';
import { endpointList } from './endpoint-list.ts';
import { commaItems, int } from './value-schemas.ts';

/** Language models: the default one, the OpenAI settings and named OpenAI-compatible endpoints. */
export const modelSettings = {
  OPENAI_API_KEY: z.string().min(1).optional().describe('API key for openai: models.'),
  OPENAI_BASE_URL: z.url().optional().describe('Base URL of an OpenAI-compatible server (default the OpenAI API).'),
  ANTHROPIC_API_KEY: z.string().min(1).optional().describe('API key for anthropic: models (the Messages API).'),
  ANTHROPIC_BASE_URL: z
    .url()
    .optional()
    .describe(
      'Base URL of the Anthropic API up to its version, e.g. a proxy at https://llm-proxy.internal/anthropic/v1 (default https://api.anthropic.com/v1).',
    ),
  GOOGLE_GENERATIVE_AI_API_KEY: z.string().min(1).optional().describe('API key for google: models (the Gemini API).'),
  GOOGLE_BASE_URL: z
    .url()
    .optional()
    .describe('Base URL of the Gemini API up to its version (default https://generativelanguage.googleapis.com/v1beta).'),
  DEFAULT_MODEL: z
    .string()
    .regex(
      modelIdPattern,
      'must be provider:model, e.g. local:offline, openai:gpt-4o-mini, anthropic:claude-sonnet-4-5 or ollama:llama3.1:8b',
    )
    .default('local:offline')
    .describe(
      'Language model for sessions that name none: local:offline, openai:<model>, anthropic:<model>, google:<model>, or <endpoint>:<model> for an endpoint in MODEL_ENDPOINTS. Checked at start.',
    ),
  MODEL_ENDPOINTS: endpointList('base URL', false).describe(
    'OpenAI-compatible servers (Ollama, vLLM, LM Studio, …) as comma-separated name=baseUrl, e.g. ollama=http://localhost:11434/v1; their models are <name>:<model>.',
  ),
  MODEL_ENDPOINT_KEYS: endpointList('key', true).describe('API keys of MODEL_ENDPOINTS that need one, as comma-separated name=key.'),
  MODEL_PRICES: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Your own price file (the shape of config/model-prices.yaml), merged over the shipped prices model by model; provider:* prices a whole endpoint, e.g. ollama:* at zero.',
    ),
  DEFAULT_MODEL_PRICE: z
    .string()
    .default('10/30')
    .transform((text, ctx) => {
      const [input, output, ...rest] = text.split('/').map((part) => Number(part.trim()));
      if (
        rest.length > 0 ||
        input === undefined ||
        output === undefined ||
        !(input >= 0) ||
        !(output >= 0) ||
        input > 1e6 ||
        output > 1e6
      ) {
        ctx.addIssue({ code: 'custom', message: 'must be <input>/<output> in USD per million tokens, e.g. 10/30' });
        return z.NEVER;
      }
      return { input, output };
    })
    .describe(
      'What a model with no price counts toward the spend limit, as <input>/<output> USD per million tokens; its costs are shown as estimated.',
    ),
  MODEL_CONTEXT_WINDOWS: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const windows = new Map<string, number>();
      for (const entry of commaItems(text)) {
        // The last `=`: a model id may hold colons, never an equals sign.
        const separator = entry.lastIndexOf('=');
        const model = entry.slice(0, Math.max(separator, 0)).trim();
        const tokens = Number(entry.slice(separator + 1).trim());
        const wildcard = /^[a-z][a-z0-9-]{0,31}:\*$/.test(model);
        if (
          separator <= 0 ||
          !(wildcard || modelIdPattern.test(model)) ||
          !Number.isInteger(tokens) ||
          tokens < 1024 ||
          tokens > 10_000_000
        ) {
          ctx.addIssue({
            code: 'custom',
            message: `"${entry.slice(0, 240)}" is not model=tokens (e.g. ollama:llama3.1:8b=8192, or ollama:*=8192)`,
          });
          return z.NEVER;
        }
        windows.set(model, tokens);
      }
      return windows as ReadonlyMap<string, number>;
    })
    .describe(
      'Context windows in tokens of models whose server does not say (Ollama), as comma-separated model=tokens; <endpoint>:* sets a whole endpoint. Overrides the known windows and what vLLM reports.',
    ),
  DEFAULT_CONTEXT_WINDOW: int(1024, 10_000_000)
    .default(32_768)
    .describe('Context window, in tokens, of a model whose window is neither known, configured nor reported by its server.'),
  MODEL_OUTPUT_RESERVE: int(256, 1_000_000)
    .default(4096)
    .describe(
      "Tokens of a model's context window kept free for its answer (at most a quarter of the window) when a turn's history is fitted to it.",
    ),
  MODEL_TIMEOUT_MS: int(100, 3_600_000)
    .default(60_000)
    .describe(
      'How long a model call may receive nothing (before its answer starts, or between streamed chunks) before it is stopped with MODEL_TIMEOUT.',
    ),
  MODEL_MAX_RETRIES: int(0, 10)
    .default(2)
    .describe('Retries of a model call that failed before any output with 429, 5xx or a lost connection (honouring Retry-After).'),
} as const;
