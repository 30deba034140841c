import type { Embedder } from './embedder.ts';

/**
 * `local:hashing`: a deterministic, lexical embedding that needs no network and no model file.
 *
 * Each word contributes its light stem and its character trigrams (with word-boundary marks),
 * hashed into a fixed number of signed buckets (the hashing trick), then the vector is
 * L2-normalised so cosine similarity is a dot product. Trigrams make word forms ("indexing",
 * "indexes") and typos ("postgrse") land near each other, and a bag of features ignores word
 * order. It knows nothing of meaning: "car" and "automobile" share nothing.
 */
export const localHashingDimensions = 384;

/** Words too common to say anything about a text. Not a synonym list: only function words. */
const stopwords = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have he her his how i if in into is it its ' +
    'me my no not of on or our she so than that the their them then there these they this to was we were what when where ' +
    'which who why will with would you your'
  ).split(' '),
);

const wordPattern = /[\p{L}\p{N}]+/gu;
const stemWeight = 1;
const trigramWeight = 0.45;

/** Strips the commonest English inflections, so "connections" and "connected" share a feature. */
export function lightStem(word: string): string {
  if (word.length <= 4) return word;
  for (const [suffix, replacement] of suffixes) {
    if (word.endsWith(suffix) && word.length - suffix.length >= 3) return word.slice(0, -suffix.length) + replacement;
  }
  return word;
}
const suffixes: Array<[string, string]> = [
  ['ational', 'ate'],
  ['ization', 'ize'],
  ['ations', 'ate'],
  ['ation', 'ate'],
  ['ments', ''],
  ['ment', ''],
  ['ings', ''],
  ['ing', ''],
  ['ies', 'y'],
  ['ied', 'y'],
  ['ers', ''],
  ['er', ''],
  ['ed', ''],
  ['es', ''],
  ['ly', ''],
  ['s', ''],
];

/** The words of a text as the embedding sees them: case- and accent-folded, without stopwords. */
export function contentWords(text: string): string[] {
  const folded = text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
  return (folded.match(wordPattern) ?? []).filter((w) => !stopwords.has(w) && (w.length > 1 || /\d/.test(w)));
}

/** 32-bit FNV-1a, then a murmur finaliser so nearby strings spread over all bits. */
function hash(text: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function hashingEmbedding(text: string, dimensions: number = localHashingDimensions): number[] {
  const vector = new Float64Array(dimensions);
  const add = (feature: string, weight: number) => {
    const h = hash(feature, 0);
    vector[h % dimensions]! += h & 0x80000000 ? -weight : weight;
  };
  for (const word of contentWords(text)) {
    add(`w:${lightStem(word)}`, stemWeight);
    const padded = `<${word}>`;
    const grams = padded.length - 2;
    const weight = trigramWeight / Math.sqrt(grams);
    for (let i = 0; i < grams; i++) add(padded.slice(i, i + 3), weight);
  }
  let norm = 0;
  for (const v of vector) norm += v * v;
  // A text of nothing but stopwords still gets a unit vector: a zero vector has no cosine.
  if (norm === 0) {
    add('<empty>', 1);
    norm = 1;
  }
  norm = Math.sqrt(norm);
  return Array.from(vector, (v) => v / norm);
}

export function createLocalHashingEmbedder(): Embedder {
  return {
    name: 'local:hashing',
    dimensions: localHashingDimensions,
    maxBatchSize: 64,
    async embed(texts) {
      return texts.map((text) => hashingEmbedding(text));
    },
  };
}
