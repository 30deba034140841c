import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { AppError } from '../errors.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-prices-'));
const priceFile = (name: string, text: string) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
};
const prices = (env: NodeJS.ProcessEnv = {}) => loadConfig(env, dir).models.prices;

describe('model prices', () => {
  it('price shipped models per million input and output tokens, dated snapshots included, from the dated table', () => {
    const table = prices();
    expect(table.taken).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(table.costOf('openai:gpt-4o', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toEqual({ costUsd: 12.5, estimated: false });
    expect(table.costOf('anthropic:claude-sonnet-4-5', { inputTokens: 1_000_000, outputTokens: 100_000 })).toEqual({
      costUsd: 4.5,
      estimated: false,
    });
    expect(table.costOf('openai:gpt-4o-mini-2024-07-18', { inputTokens: 2000, outputTokens: 500 })).toEqual(
      table.costOf('openai:gpt-4o-mini', { inputTokens: 2000, outputTokens: 500 }),
    );
  });

  it('charge cached input at the cached price', () => {
    const table = prices();
    const fresh = table.costOf('openai:gpt-4.1', { inputTokens: 1_000_000, outputTokens: 0 });
    const cached = table.costOf('openai:gpt-4.1', { inputTokens: 1_000_000, inputTokenDetails: { cacheReadTokens: 1_000_000 } });
    expect([fresh.costUsd, cached.costUsd]).toEqual([2, 0.5]);
  });

  it('count a model with no price at DEFAULT_MODEL_PRICE, marked estimated, and local models at zero', () => {
    const table = prices({ DEFAULT_MODEL_PRICE: '2/8' });
    expect(table.costOf('ollama:llama3.1:8b', { inputTokens: 1_000_000, outputTokens: 500_000 })).toEqual({ costUsd: 6, estimated: true });
    expect(table.costOf('openai:gpt-4o-audio-preview', { inputTokens: 1_000_000 })).toEqual({ costUsd: 2, estimated: true });
    expect(prices().costOf('vllm:qwen', { inputTokens: 1_000_000 })).toEqual({ costUsd: 10, estimated: true });
    expect(table.costOf('local:offline', { inputTokens: 5000, outputTokens: 300 })).toEqual({ costUsd: 0, estimated: false });
    expect(() => prices({ DEFAULT_MODEL_PRICE: 'ten' })).toThrow(/DEFAULT_MODEL_PRICE: must be <input>\/<output>/);
  });

  it("merge the administrator's file over the shipped one, per model and per endpoint", () => {
    const file = priceFile(
      'ours.yaml',
      'prices:\n  ollama:*: { input: 0, output: 0 }\n  vllm:qwen2.5: { input: 0.4, output: 0.4 }\n  openai:gpt-4o: { input: 2, output: 8 }\n',
    );
    const table = prices({ MODEL_PRICES: file });
    expect(table.costOf('ollama:llama3.1:8b', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toEqual({
      costUsd: 0,
      estimated: false,
    });
    expect(table.costOf('vllm:qwen2.5', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toEqual({ costUsd: 0.8, estimated: false });
    expect(table.costOf('vllm:other', { inputTokens: 1_000_000 })).toMatchObject({ estimated: true });
    expect(table.costOf('openai:gpt-4o', { inputTokens: 1_000_000, outputTokens: 1_000_000 }).costUsd).toBe(10);
    expect(table.costOf('openai:gpt-4o-mini', { inputTokens: 1_000_000 }).costUsd).toBe(0.15);
  });

  it('refuse a malformed price file at start with CONFIG_INVALID, naming the file and the line', () => {
    const refusal = (text: string) => {
      try {
        prices({ MODEL_PRICES: priceFile('bad.yaml', text) });
      } catch (error) {
        return error as AppError;
      }
      throw new Error('accepted');
    };
    const negative = refusal('taken: 2026-11-01\nprices:\n  ollama:*: { input: 0, output: 0 }\n  vllm:qwen: { input: -1, output: 2 }\n');
    expect(negative.code).toBe('CONFIG_INVALID');
    expect(negative.message).toMatch(/^MODEL_PRICES: .*bad\.yaml line 4: prices\.vllm:qwen\.input: /);
    expect(refusal('prices:\n  vllm:qwen: { input: 1, ouput: 2 }\n').message).toMatch(/line 2: prices\.vllm:qwen\.output: /);
    expect(refusal('prices:\n  gpt-4o: { input: 1, output: 2 }\n').message).toMatch(/line 2: .*not provider:model/);
    expect(refusal('prices:\n  vllm:qwen: { input: 1, output: 2\n').message).toMatch(/line \d+: /);
    expect(() => prices({ MODEL_PRICES: path.join(dir, 'missing.yaml') })).toThrow(/MODEL_PRICES: cannot read/);
  });
});
