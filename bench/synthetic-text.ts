/**
 * Seeded synthetic data for the knowledge bench, where real prose cannot serve: text from a
 * Zipf-distributed made-up vocabulary, and the `--large` set's 1536-dimension vectors.
 */

/** mulberry32: a small seeded generator of uniform numbers in [0, 1), so runs compare. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const syllables = 'ka lo mi ren tor sa vel di nor pe qua zi bru an est ol im ter gra fu'.split(' ');

/** Sentences and chunks of 4,000 made-up words whose frequencies follow Zipf's law (s = 1). */
export function zipfText(seed: number): { sentence(): string; chunk(): string } {
  const rand = random(seed);
  const vocabulary = Array.from({ length: 4000 }, () =>
    Array.from({ length: 2 + Math.floor(rand() * 3) }, () => syllables[Math.floor(rand() * syllables.length)]).join(''),
  );
  let sum = 0;
  const total = vocabulary.reduce((acc, _, i) => acc + 1 / (i + 1), 0);
  const cumulative = vocabulary.map((_, i) => (sum += 1 / (i + 1) / total));
  const word = () => {
    const x = rand();
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return vocabulary[lo]!;
  };
  const sentence = () => `${Array.from({ length: 8 + Math.floor(rand() * 10) }, word).join(' ')}.`;
  return { sentence, chunk: () => Array.from({ length: 6 }, sentence).join(' ') };
}

/**
 * The `--large` set's vectors: `clusters` centres drawn uniformly on the unit sphere, and each
 * vector a centre plus Gaussian noise of standard deviation `spread` per coordinate, normalised.
 * Clustered rather than uniform, as real embeddings are; the parameters go in the bench's note.
 */
export function clusteredVectors(options: { dimensions: number; clusters: number; spread: number; seed: number }) {
  const rand = random(options.seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const normalise = (v: Float64Array) => {
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm) || 1;
    return v.map((x) => x / norm);
  };
  const centres = Array.from({ length: options.clusters }, () => normalise(Float64Array.from({ length: options.dimensions }, gaussian)));
  return {
    describe: `${options.clusters} clusters on the unit sphere, noise σ ${options.spread} per coordinate, normalised; mulberry32 seed ${options.seed}`,
    next(): Float64Array {
      const centre = centres[Math.floor(rand() * centres.length)]!;
      return normalise(centre.map((x) => x + gaussian() * options.spread));
    },
  };
}
