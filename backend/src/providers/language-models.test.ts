import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.ts';
import { createLanguageModels, type LanguageModelSettings } from './language-models.ts';

const settings = (overrides: Partial<LanguageModelSettings> = {}): LanguageModelSettings => ({
  defaultModel: 'local:offline',
  openai: { apiKey: undefined, baseUrl: undefined },
  endpoints: [],
  timeoutMs: 60_000,
  retry: { attempts: 3, baseDelayMs: 500, maxDelayMs: 30_000 },
  ...overrides,
});

function refusal(models: ReturnType<typeof createLanguageModels>, id: string): AppError {
  try {
    models.resolve(id);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error(`${id} resolved`);
}

describe('createLanguageModels', () => {
  it('always has local:offline, as an AI SDK v3 model whose provider:modelId is its id', () => {
    const model = createLanguageModels(settings()).resolve('local:offline');
    expect(model).toMatchObject({ specificationVersion: 'v3', provider: 'local', modelId: 'offline' });
  });

  it('refuses an unknown provider with 400 UNKNOWN_MODEL, listing what is configured', () => {
    const models = createLanguageModels(settings({ endpoints: [{ name: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1' }] }));
    const error = refusal(models, 'mistral:large');
    expect(error).toMatchObject({ code: 'UNKNOWN_MODEL', status: 400 });
    expect(error.message).toContain('there is no provider "mistral"');
    expect(error.message).toContain('Configured: local:offline, ollama:<model>.');
    expect(error.details).toMatchObject({ model: 'mistral:large', availableProviders: ['local', 'ollama'] });
  });

  it('names the setting a native provider needs, and resolves its models once it is set', () => {
    const unset = createLanguageModels(settings());
    expect(refusal(unset, 'anthropic:claude-sonnet-4-5').message).toContain('needs ANTHROPIC_API_KEY');
    expect(refusal(unset, 'google:gemini-2.5-flash').message).toContain('needs GOOGLE_GENERATIVE_AI_API_KEY');
    const set = createLanguageModels(
      settings({ anthropic: { apiKey: 'sk-ant', baseUrl: undefined }, google: { apiKey: 'g-key', baseUrl: undefined } }),
    );
    expect(set.resolve('anthropic:claude-sonnet-4-5')).toMatchObject({ provider: 'anthropic', modelId: 'claude-sonnet-4-5' });
    expect(set.resolve('google:gemini-2.5-flash')).toMatchObject({ provider: 'google', modelId: 'gemini-2.5-flash' });
    expect(set.list().map((m) => m.provider)).toEqual(['local', 'anthropic', 'google']);
  });

  it('refuses openai: models until OpenAI is configured, saying how to configure it', () => {
    const error = refusal(createLanguageModels(settings()), 'openai:gpt-4o');
    expect(error.code).toBe('UNKNOWN_MODEL');
    expect(error.message).toMatch(/needs OPENAI_API_KEY \(or OPENAI_BASE_URL/);
    expect(error.message).toContain('Configured: local:offline.');

    const withKey = createLanguageModels(settings({ openai: { apiKey: 'sk-test', baseUrl: undefined } }));
    expect(withKey.resolve('openai:gpt-4o')).toMatchObject({ provider: 'openai', modelId: 'gpt-4o' });
    const withBaseUrl = createLanguageModels(settings({ openai: { apiKey: undefined, baseUrl: 'http://127.0.0.1:8000/v1' } }));
    expect(withBaseUrl.resolve('openai:qwen2.5')).toMatchObject({ provider: 'openai', modelId: 'qwen2.5' });
  });

  it('refuses other local models and ids that are not provider:model, with a hint', () => {
    const models = createLanguageModels(settings({ openai: { apiKey: 'sk-test', baseUrl: undefined } }));
    expect(refusal(models, 'local:llama').message).toContain('the local one is local:offline');
    expect(refusal(models, 'gpt-4o').message).toContain('did you mean openai:gpt-4o?');
    expect(refusal(models, '').code).toBe('UNKNOWN_MODEL');
  });

  it('keeps colons in a compatible server’s model name', () => {
    const models = createLanguageModels(settings({ endpoints: [{ name: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1' }] }));
    expect(models.resolve('ollama:llama3.1:8b')).toMatchObject({ provider: 'ollama', modelId: 'llama3.1:8b' });
  });

  it('lists what is configured without keys or URLs', () => {
    const models = createLanguageModels(
      settings({
        defaultModel: 'vllm:qwen2.5',
        openai: { apiKey: 'sk-secret-openai', baseUrl: undefined },
        endpoints: [{ name: 'vllm', baseUrl: 'http://10.0.0.5:8000/v1', apiKey: 'sk-secret-vllm' }],
      }),
    );
    expect(models.defaultModel).toBe('vllm:qwen2.5');
    expect(models.list().map((m) => [m.id, m.provider])).toEqual([
      ['local:offline', 'local'],
      [undefined, 'openai'],
      [undefined, 'vllm'],
    ]);
    expect(JSON.stringify(models.list())).not.toMatch(/sk-secret|10\.0\.0\.5/);
  });

  it('refuses to start with a default model it cannot resolve', () => {
    expect(() => createLanguageModels(settings({ defaultModel: 'openai:gpt-4o' }))).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
    expect(() => createLanguageModels(settings({ defaultModel: 'openai:gpt-4o' }))).toThrow(/DEFAULT_MODEL: .*OPENAI_API_KEY/);
  });
});
