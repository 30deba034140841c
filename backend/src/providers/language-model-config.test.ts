import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { createLanguageModels } from './language-models.ts';

const emptyDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-models-config-'));
const load = (env: NodeJS.ProcessEnv) => loadConfig(env, emptyDir());

describe('language model settings', () => {
  it('default to local:offline with a 60 s stall timeout and 2 retries', () => {
    const { models } = load({});
    expect(models).toMatchObject({ defaultModel: 'local:offline', endpoints: [], timeoutMs: 60_000, retry: { attempts: 3 } });
    expect(
      createLanguageModels(models)
        .list()
        .map((m) => m.provider),
    ).toEqual(['local']);
  });

  it('read named endpoints and their keys, and reuse the OpenAI settings', () => {
    const { models } = load({
      DEFAULT_MODEL: 'ollama:llama3.1:8b',
      MODEL_ENDPOINTS: 'ollama=http://localhost:11434/v1/, vllm = https://gpu.internal:8000/v1',
      MODEL_ENDPOINT_KEYS: 'vllm=sk-abc=',
      OPENAI_API_KEY: 'sk-openai',
      MODEL_TIMEOUT_MS: '30000',
      MODEL_MAX_RETRIES: '0',
    });
    expect(models.endpoints).toEqual([
      { name: 'ollama', baseUrl: 'http://localhost:11434/v1', apiKey: undefined },
      { name: 'vllm', baseUrl: 'https://gpu.internal:8000/v1', apiKey: 'sk-abc=' },
    ]);
    expect(models.openai).toEqual({ apiKey: 'sk-openai', baseUrl: undefined });
    expect(models).toMatchObject({ defaultModel: 'ollama:llama3.1:8b', timeoutMs: 30_000, retry: { attempts: 1 } });
    expect(createLanguageModels(models).resolve('vllm:qwen2.5')).toMatchObject({ provider: 'vllm', modelId: 'qwen2.5' });
  });

  it('stop the start on a bad endpoint list, naming the setting', () => {
    expect(() => load({ MODEL_ENDPOINTS: 'openai=http://localhost:8000/v1' })).toThrow(/MODEL_ENDPOINTS: "openai" is a built-in provider/);
    expect(() => load({ MODEL_ENDPOINTS: 'local=http://localhost:8000/v1' })).toThrow(/MODEL_ENDPOINTS: "local" is a built-in provider/);
    expect(() => load({ MODEL_ENDPOINTS: 'google=http://localhost:8000/v1' })).toThrow(/MODEL_ENDPOINTS: "google" is a built-in provider/);
    expect(() => load({ MODEL_ENDPOINTS: 'http://localhost:11434/v1' })).toThrow(/MODEL_ENDPOINTS: .* is not name=baseUrl/);
    expect(() => load({ MODEL_ENDPOINTS: 'Ollama=http://localhost:11434/v1' })).toThrow(
      /MODEL_ENDPOINTS: "Ollama" is not an endpoint name/,
    );
    expect(() => load({ MODEL_ENDPOINTS: 'a=http://x/v1,a=http://y/v1' })).toThrow(/MODEL_ENDPOINTS: "a" appears twice/);
    expect(() => load({ MODEL_ENDPOINTS: 'ollama=localhost:11434' })).toThrow(/MODEL_ENDPOINTS: the base URL of "ollama" must be an http/);
  });

  it('refuse keys for endpoints that do not exist, without echoing a key', () => {
    expect(() => load({ MODEL_ENDPOINTS: 'ollama=http://localhost:11434/v1', MODEL_ENDPOINT_KEYS: 'olama=sk-1' })).toThrow(
      /MODEL_ENDPOINT_KEYS: "olama" is not an endpoint in MODEL_ENDPOINTS/,
    );
    let message = '';
    try {
      load({ MODEL_ENDPOINT_KEYS: 'sk-pasted-without-a-name' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/MODEL_ENDPOINT_KEYS: entry 1 is not name=key/);
    expect(message).not.toContain('sk-pasted');
  });

  it('read the native providers, and refuse them as embedding models', () => {
    const { models } = load({
      DEFAULT_MODEL: 'anthropic:claude-sonnet-4-5',
      ANTHROPIC_API_KEY: 'sk-ant',
      GOOGLE_BASE_URL: 'http://127.0.0.1:9/v1beta/',
    });
    expect(models).toMatchObject({
      anthropic: { apiKey: 'sk-ant', baseUrl: undefined },
      google: { apiKey: undefined, baseUrl: 'http://127.0.0.1:9/v1beta' },
    });
    expect(() => load({ ANTHROPIC_API_KEY: 'sk-ant', EMBEDDING_MODEL: 'anthropic:claude-sonnet-4-5' })).toThrow(
      /EMBEDDING_MODEL: anthropic: serves language models only/,
    );
    expect(() => load({ DEFAULT_MODEL: 'google:gemini-2.5-flash' })).toThrow(/DEFAULT_MODEL: .*needs GOOGLE_GENERATIVE_AI_API_KEY/);
  });

  it('refuse a DEFAULT_MODEL that cannot be resolved, saying what to configure', () => {
    expect(() => load({ DEFAULT_MODEL: 'openai:gpt-4o-mini' })).toThrow(/DEFAULT_MODEL: .*needs OPENAI_API_KEY/);
    expect(() => load({ DEFAULT_MODEL: 'ollama:llama3.1' })).toThrow(/DEFAULT_MODEL: .*Add it to MODEL_ENDPOINTS/);
    expect(() => load({ DEFAULT_MODEL: 'gpt-4o' })).toThrow(/DEFAULT_MODEL: must be provider:model/);
    expect(load({ DEFAULT_MODEL: 'openai:gpt-4o-mini', OPENAI_BASE_URL: 'http://127.0.0.1:8000/v1' }).models.defaultModel).toBe(
      'openai:gpt-4o-mini',
    );
  });
});
