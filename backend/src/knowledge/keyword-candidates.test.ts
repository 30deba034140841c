import { describe, expect, it } from 'vitest';
import { pickCandidateWords } from './keyword-candidates.ts';

describe('pickCandidateWords', () => {
  const words = (shares: Record<string, number>) => Object.entries(shares).map(([word, share]) => ({ word, share }));

  it('looks up the rarer words whose matches fit the budget, and always the rarest', () => {
    expect(pickCandidateWords(words({ common: 0.5, rare: 0.001, rarer: 0.0005 }), 0.01)).toEqual({ any: ['rarer', 'rare'], all: [] });
    expect(pickCandidateWords(words({ only: 0.2 }), 0.01)).toEqual({ any: ['only'], all: [] });
    expect(pickCandidateWords([], 0.01)).toEqual({ any: [], all: [] });
  });

  it('looks up the chunks holding the rarest words together first when even the rarest is over the budget', () => {
    // 0.2 × 0.3 = 0.06 is still over 0.01; with 0.4 the three together are expected in 0.024: all the words there are.
    expect(pickCandidateWords(words({ a: 0.4, b: 0.2, c: 0.3 }), 0.01)).toEqual({ any: ['b'], all: ['b', 'c', 'a'] });
    // 0.05 × 0.1 = 0.005 fits: the commonest word is left to the rank.
    expect(pickCandidateWords(words({ a: 0.05, b: 0.1, c: 0.9 }), 0.01)).toEqual({ any: ['a'], all: ['a', 'b'] });
  });
});
