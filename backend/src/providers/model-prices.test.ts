import { describe, expect, it } from 'vitest';
import { costOf } from './model-prices.ts';

describe('costOf', () => {
  it('prices OpenAI models per million input and output tokens, dated snapshots included', () => {
    expect(costOf('openai:gpt-4o', { inputTokens: 1_000_000, outputTokens: 1_000_000 })).toBe(12.5);
    expect(costOf('openai:gpt-4o-mini', { inputTokens: 2000, outputTokens: 500 })).toBeCloseTo(0.0006, 9);
    expect(costOf('openai:gpt-4o-mini-2024-07-18', { inputTokens: 2000, outputTokens: 500 })).toBe(
      costOf('openai:gpt-4o-mini', { inputTokens: 2000, outputTokens: 500 }),
    );
  });

  it('charges cached input at the cached price', () => {
    const fresh = costOf('openai:gpt-4.1', { inputTokens: 1_000_000, outputTokens: 0 });
    const cached = costOf('openai:gpt-4.1', { inputTokens: 1_000_000, outputTokens: 0, inputTokenDetails: { cacheReadTokens: 1_000_000 } });
    expect([fresh, cached]).toEqual([2, 0.5]);
  });

  it('says local models cost nothing and unknown ones cost an unknown amount', () => {
    expect(costOf('local:offline', { inputTokens: 5000, outputTokens: 300 })).toBe(0);
    expect(costOf('openai:gpt-4o-audio-preview', { inputTokens: 10 })).toBeNull();
    expect(costOf('ollama:llama3.1:8b', { inputTokens: 10 })).toBeNull();
    expect(costOf('gpt-4o', { inputTokens: 10 })).toBeNull();
  });
});
