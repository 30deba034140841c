import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { describe, expect, it } from 'vitest';
import { chunkText, type Chunk } from './chunker.ts';

const sentence = (i: number) => `Sentence ${i} explains how the harbour pilots guide container ships through the narrow channel at dawn.`;
const paragraphs = Array.from({ length: 12 }, (_, p) => Array.from({ length: 6 }, (_, s) => sentence(p * 6 + s)).join(' ')).join('\n\n');

function expectWellFormed(text: string, chunks: Chunk[], size: number): void {
  chunks.forEach((chunk, i) => {
    expect(chunk.index).toBe(i);
    expect(text.slice(chunk.start, chunk.end)).toBe(chunk.content);
    expect(chunk.tokenCount).toBe(countTokens(chunk.content));
    expect(chunk.tokenCount).toBeLessThanOrEqual(size);
  });
  // Nothing is lost: every non-blank character is inside some chunk.
  const covered = new Uint8Array(text.length);
  for (const c of chunks) covered.fill(1, c.start, c.end);
  for (let i = 0; i < text.length; i++) if (!/\s/.test(text[i]!)) expect(covered[i]).toBe(1);
}

describe('chunkText', () => {
  it('makes token-exact chunks that end at sentence ends and overlap by whole sentences', () => {
    const chunks = chunkText(paragraphs, { chunkSize: 200, overlap: 50 });
    expectWellFormed(paragraphs, chunks, 200);
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) expect(chunk.content).toMatch(/dawn\.$/);
    for (let i = 1; i < chunks.length; i++) {
      const shared = paragraphs.slice(chunks[i]!.start, chunks[i - 1]!.end);
      expect(chunks[i]!.start).toBeLessThan(chunks[i - 1]!.end);
      expect(countTokens(shared)).toBeLessThanOrEqual(50);
    }
  });

  it('prefers a paragraph end when one falls in the second half', () => {
    const chunks = chunkText(paragraphs, { chunkSize: 200, overlap: 0 });
    const paragraphEnds = chunks.filter((c) => c.end === paragraphs.length || paragraphs.slice(c.end, c.end + 2) === '\n\n');
    expect(paragraphEnds.length).toBeGreaterThanOrEqual(chunks.length - 2);
  });

  it('cuts a sentence longer than a chunk between words, and a word longer than a chunk between characters', () => {
    const text = `${'lorem '.repeat(900)}end.\n\n${'x'.repeat(3000)}`;
    const chunks = chunkText(text, { chunkSize: 120, overlap: 20 });
    expectWellFormed(text, chunks, 120);
    for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.start).toBeGreaterThan(chunks[i - 1]!.start);
  });

  it('uses the 500/50 defaults sensibly on long text', () => {
    const text = Array.from({ length: 400 }, (_, i) => sentence(i)).join(' ');
    const chunks = chunkText(text, { chunkSize: 500, overlap: 50 });
    expectWellFormed(text, chunks, 500);
    expect(chunks.every((c, i) => i === chunks.length - 1 || c.tokenCount > 400)).toBe(true);
  });

  it('chunks 160,000 characters without a space (which the tokenizer merges in quadratic time) at once', () => {
    // Before runs were cut first, this took most of a minute, and a megabyte half an hour.
    const text = `A normal sentence first. ${'bomb'.repeat(40_000)} and a normal end.`;
    const started = performance.now();
    const chunks = chunkText(text, { chunkSize: 500, overlap: 50 });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(chunks.every((c) => c.tokenCount <= 500 && text.slice(c.start, c.end) === c.content)).toBe(true);
    expect(
      chunks
        .map((c) => c.content)
        .join('')
        .replace(/\s/g, ''),
    ).toContain('bomb'.repeat(100));
    expect(chunks[0]!.content.startsWith('A normal sentence first.')).toBe(true);
    expect(chunks.at(-1)!.content.endsWith('and a normal end.')).toBe(true);
  });

  it.each(['a-', 'a@a.', 'eyJa-'])(
    'chunks 250,000 characters of %s (which the word segmenter breaks in quadratic time) at once',
    (unit) => {
      // Before the segmenter saw windows of a bounded length, 160,000 characters of `a-` took 21 s.
      const text = unit.repeat(250_000 / unit.length);
      const started = performance.now();
      const chunks = chunkText(text, { chunkSize: 500, overlap: 50 });
      expect(performance.now() - started).toBeLessThan(2000);
      expect(chunks.every((c) => c.tokenCount <= 500 && text.slice(c.start, c.end) === c.content)).toBe(true);
      expect(chunks[0]!.start).toBe(0);
      expect(chunks.at(-1)!.end).toBe(text.length);
    },
  );

  it('returns nothing for blank text', () => {
    expect(chunkText(' \n\n\t', { chunkSize: 100, overlap: 10 })).toEqual([]);
  });
});
