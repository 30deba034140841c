import { countTokens, decode, encode } from 'gpt-tokenizer/encoding/cl100k_base';

/*
 * Token-exact chunking. Tokens are counted with cl100k_base, the encoding of OpenAI's embedding
 * models, so "500 tokens" means what the embedding API will count. A chunk ends at a paragraph
 * end when one falls in its second half, otherwise at a sentence end; only a sentence longer than
 * a whole chunk is cut between words (and a word longer than a chunk, between characters).
 * Consecutive chunks share up to `overlap` tokens: whole sentences when they fit, otherwise the
 * previous chunk's last `overlap` tokens.
 */

export interface ChunkOptions {
  chunkSize: number;
  overlap: number;
}

export interface Chunk {
  index: number;
  content: string;
  tokenCount: number;
  /** Character offsets into the text that was chunked: `text.slice(start, end) === content`. */
  start: number;
  end: number;
}

export const chunkLimits = { minSize: 50, maxSize: 2000, defaultSize: 500, defaultOverlap: 50 } as const;

/** A piece that is never split further: a sentence, or a part of one that alone exceeds a chunk. */
interface Atom {
  start: number;
  end: number;
  tokens: number;
  endsParagraph: boolean;
}

/**
 * Characters without a space beyond which a run is cut by characters before anything counts its
 * tokens. The tokenizer's merge step is quadratic in a run's length (32,000 letters in a row took
 * 0.75 s, 128,000 took 11 s, a megabyte would take half an hour); a word of real text is shorter.
 */
const maxRunChars = 200;

/** Whether [start, end) of `text` has a run of more than `maxRunChars` characters without whitespace. */
function hasLongRun(text: string, start: number, end: number): boolean {
  let run = 0;
  for (let i = start; i < end; i++) {
    run = /\s/.test(text[i]!) ? 0 : run + 1;
    if (run > maxRunChars) return true;
  }
  return false;
}

/**
 * [start, end) of `text` cut into windows of at most `maxRunChars` characters, each ending at a
 * whitespace when one falls in it, for the word segmenter: ICU's word breaking is quadratic in a
 * run without spaces (160,000 characters of `a-a-…` took 21 s), so it never sees a longer one. A
 * word is cut at a window's edge only inside a run longer than a window, which is cut anyway.
 */
function* segmenterWindows(text: string, start: number, end: number): Generator<[number, number]> {
  while (start < end) {
    let cut = Math.min(end, start + maxRunChars);
    if (cut < end) {
      let space = cut;
      while (space > start && !/\s/.test(text[space - 1]!)) space--;
      if (space > start) cut = space;
    }
    yield [start, cut];
    start = cut;
  }
}

const sentences = new Intl.Segmenter('en', { granularity: 'sentence' });
const words = new Intl.Segmenter('en', { granularity: 'word' });

/** [start, end) of `text` without leading and trailing whitespace, or undefined when blank. */
function trimmed(text: string, start: number, end: number): [number, number] | undefined {
  while (start < end && /\s/.test(text[start]!)) start++;
  while (end > start && /\s/.test(text[end - 1]!)) end--;
  return start < end ? [start, end] : undefined;
}

function atomsOf(text: string, chunkSize: number, overlap: number): Atom[] {
  // Parts of an overlong sentence leave room for the overlap beside them.
  const partSize = chunkSize - overlap;
  const atoms: Atom[] = [];
  const push = (start: number, end: number, endsParagraph: boolean) => {
    const range = trimmed(text, start, end);
    if (!range) return;
    if (hasLongRun(text, range[0], range[1])) return splitLong(range[0], range[1], endsParagraph);
    const tokens = countTokens(text.slice(range[0], range[1]));
    if (tokens <= chunkSize) atoms.push({ start: range[0], end: range[1], tokens, endsParagraph });
    else splitLong(range[0], range[1], endsParagraph);
  };
  // A sentence longer than a chunk: pack its words; a word longer than a chunk: cut by characters.
  const splitLong = (start: number, end: number, endsParagraph: boolean) => {
    const pieces: Array<[number, number, number]> = [];
    for (const [windowStart, windowEnd] of segmenterWindows(text, start, end)) {
      for (const { index, segment } of words.segment(text.slice(windowStart, windowEnd))) {
        const from = windowStart + index;
        const to = from + segment.length;
        const tokens = countTokens(segment);
        if (tokens <= partSize) pieces.push([from, to, tokens]);
        // A character is at most four tokens, so a quarter of the size in characters always fits.
        else
          for (let at = from, step = Math.max(1, Math.floor(partSize / 4)); at < to; at += step)
            pieces.push([at, Math.min(to, at + step), step * 4]);
      }
    }
    let first = 0;
    while (first < pieces.length) {
      // Pack by the pieces' own counts, then count the real text and give back pieces if needed.
      let last = first;
      let sum = pieces[first]![2];
      while (last + 1 < pieces.length && sum + pieces[last + 1]![2] <= partSize) sum += pieces[++last]![2];
      let range = trimmed(text, pieces[first]![0], pieces[last]![1]);
      let tokens = range ? countTokens(text.slice(range[0], range[1])) : 0;
      while (tokens > partSize && last > first) {
        last--;
        range = trimmed(text, pieces[first]![0], pieces[last]![1]);
        tokens = range ? countTokens(text.slice(range[0], range[1])) : 0;
      }
      if (range) atoms.push({ start: range[0], end: range[1], tokens, endsParagraph: false });
      first = last + 1;
    }
    if (atoms.length > 0) atoms[atoms.length - 1]!.endsParagraph = endsParagraph;
  };

  const paragraph = /\n[ \t]*\n/g;
  let from = 0;
  for (let match = paragraph.exec(text); ; match = paragraph.exec(text)) {
    const to = match ? match.index : text.length;
    const block = text.slice(from, to);
    for (const { index, segment } of sentences.segment(block)) push(from + index, from + index + segment.length, false);
    if (atoms.length > 0) atoms[atoms.length - 1]!.endsParagraph = true;
    if (!match) break;
    from = match.index + match[0].length;
  }
  return atoms;
}

export function chunkText(text: string, options: ChunkOptions): Chunk[] {
  const { chunkSize, overlap } = options;
  const atoms = atomsOf(text, chunkSize, overlap);
  const chunks: Chunk[] = [];
  let first = 0;
  // Where the chunk starts when it begins inside atoms[first] (a token-level overlap).
  let startOverride: number | undefined;
  while (first < atoms.length) {
    const start = startOverride ?? atoms[first]!.start;
    // Fill greedily by the atoms' own counts, then prefer a paragraph end in the second half.
    let last = first;
    let sum = startOverride === undefined ? atoms[first]!.tokens : overlap;
    while (last + 1 < atoms.length && sum + atoms[last + 1]!.tokens <= chunkSize) sum += atoms[++last]!.tokens;
    if (last + 1 < atoms.length) {
      let running = startOverride === undefined ? atoms[first]!.tokens : overlap;
      let paragraphEnd = -1;
      for (let i = first; i < last; i++) {
        if (i > first) running += atoms[i]!.tokens;
        if (atoms[i]!.endsParagraph && running >= chunkSize / 2) paragraphEnd = i;
      }
      if (paragraphEnd >= 0) last = paragraphEnd;
    }
    // Token counts of neighbouring pieces need not add up exactly: count the real text.
    let content = text.slice(start, atoms[last]!.end);
    let tokenCount = countTokens(content);
    while (tokenCount > chunkSize && last > first) {
      last--;
      content = text.slice(start, atoms[last]!.end);
      tokenCount = countTokens(content);
    }
    if (startOverride !== undefined && last === first) {
      // A token-level overlap left no room for anything new: start at the next atom without it.
      startOverride = undefined;
      first++;
      continue;
    }
    chunks.push({ index: chunks.length, content, tokenCount, start, end: atoms[last]!.end });
    if (last + 1 >= atoms.length) break;

    // Overlap: whole sentences from the end of this chunk when they fit in `overlap` tokens and
    // leave room for the next sentence, so every chunk moves forward.
    let next = last + 1;
    let shared = 0;
    const room = Math.min(overlap, chunkSize - atoms[next]!.tokens);
    while (next - 1 > first && shared + atoms[next - 1]!.tokens <= room) shared += atoms[--next]!.tokens;
    startOverride = undefined;
    if (shared === 0 && overlap > 0 && overlap <= room) {
      // The last sentence alone is longer than the overlap: share its last `overlap` tokens.
      const tail = decode(encode(content).slice(-overlap));
      const tailStart = atoms[last]!.end - tail.length;
      const range = content.endsWith(tail) ? trimmed(text, tailStart, atoms[last]!.end) : undefined;
      if (range && range[0] > atoms[last]!.start) {
        next = last;
        startOverride = range[0];
      }
    }
    first = next;
  }
  return chunks;
}
