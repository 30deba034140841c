import fs from 'node:fs';
import path from 'node:path';
import { random } from './synthetic-text.ts';

/**
 * Real English prose for the knowledge bench: the paragraphs of the Markdown files installed under
 * `node_modules`, and of the documentation comments in its type declarations (`.d.ts`), since the
 * Markdown alone holds about 8k distinct prose paragraphs. Deterministic for one install: files in
 * sorted order, symbolic links not followed, a paragraph kept only the first time it is seen.
 */
export interface ProseFile {
  /** The file's path under node_modules: a query's "home". */
  name: string;
  paragraphs: string[];
}

export interface ProseQuery {
  text: string;
  /** The file whose other paragraphs are in the corpus. */
  home: string;
}

export interface ProseCorpus {
  /** The corpus's files, each with the paragraphs that are stored as chunks (one a chunk). */
  files: ProseFile[];
  chunks: number;
  queries: ProseQuery[];
}

const minChars = 80;
const maxChars = 2000;

/** A paragraph of running text: long enough, mostly letters, not a heading, table, badge or markup. */
function isProse(paragraph: string): boolean {
  if (paragraph.length < minChars || paragraph.length > maxChars) return false;
  if (/^[#|<>![]/.test(paragraph) || paragraph.includes('](http')) return false;
  let letters = 0;
  let spaces = 0;
  for (const ch of paragraph) {
    if (ch === ' ') spaces++;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch === ' ') letters++;
  }
  return spaces >= 10 && letters / paragraph.length >= 0.8;
}

function markdownParagraphs(text: string): string[] {
  // Fenced code is not prose; the fences are found line by line (no pattern over the whole file).
  const kept: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('```')) fenced = !fenced;
    else if (!fenced && !line.startsWith('    ')) kept.push(line);
  }
  return kept.join('\n').split(/\n\s*\n/);
}

function declarationParagraphs(text: string): string[] {
  const paragraphs: string[] = [];
  for (let start = text.indexOf('/**'); start >= 0; start = text.indexOf('/**', start + 3)) {
    const end = text.indexOf('*/', start + 3);
    if (end < 0) break;
    const lines = text
      .slice(start + 3, end)
      .split('\n')
      .map((line) => line.replace(/^\s*\* ?/, ''));
    // The description only: tags (@param, @example …) start where it ends.
    const tag = lines.findIndex((line) => line.startsWith('@'));
    paragraphs.push(...(tag < 0 ? lines : lines.slice(0, tag)).join('\n').split(/\n\s*\n/));
  }
  return paragraphs;
}

function listFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && /\.(md|markdown|d\.ts|d\.mts|d\.cts)$/i.test(entry.name)) found.push(full);
    }
  };
  walk(root);
  return found;
}

/** Every distinct prose paragraph under `root`, by file; files without any are left out. */
export function readProse(root: string): ProseFile[] {
  const seen = new Set<string>();
  const files: ProseFile[] = [];
  const real = fs.realpathSync(root);
  for (const file of listFiles(real)) {
    const text = fs.readFileSync(file, 'utf8');
    const raw = /\.d\.[mc]?ts$/i.test(file) ? declarationParagraphs(text) : markdownParagraphs(text);
    const paragraphs: string[] = [];
    for (const candidate of raw) {
      const paragraph = candidate.trim().replace(/\s+/g, ' ');
      if (!isProse(paragraph) || seen.has(paragraph)) continue;
      seen.add(paragraph);
      paragraphs.push(paragraph);
    }
    if (paragraphs.length > 0) files.push({ name: path.relative(real, file), paragraphs });
  }
  return files;
}

/**
 * Up to `size` paragraphs as chunks, and `queryCount` queries: each a run of 4 to 9 words of a
 * paragraph held out of the corpus, from a file with at least two other paragraphs in it.
 */
export function buildProseCorpus(all: ProseFile[], options: { size: number; queryCount: number; seed: number }): ProseCorpus {
  const rand = random(options.seed);
  // The files that fit whole, plus the held-out paragraphs: the queries' homes are among these.
  const whole: ProseFile[] = [];
  let count = 0;
  for (const file of all) {
    if (count + file.paragraphs.length > options.size + options.queryCount) break;
    whole.push(file);
    count += file.paragraphs.length;
  }
  const eligible = whole.filter((file) => file.paragraphs.length >= 3);
  const picked = new Set<ProseFile>();
  while (picked.size < Math.min(options.queryCount, eligible.length)) picked.add(eligible[Math.floor(rand() * eligible.length)]!);
  const queries: ProseQuery[] = [];
  const files: ProseFile[] = [];
  let chunks = 0;
  for (const file of all) {
    if (chunks >= options.size) break;
    let paragraphs = file.paragraphs;
    if (picked.has(file)) {
      const held = Math.floor(rand() * paragraphs.length);
      const words = paragraphs[held]!.split(' ');
      const length = 4 + Math.floor(rand() * 6);
      const start = Math.floor(rand() * Math.max(1, words.length - length));
      queries.push({ text: words.slice(start, start + length).join(' '), home: file.name });
      paragraphs = paragraphs.filter((_, i) => i !== held);
    }
    paragraphs = paragraphs.slice(0, options.size - chunks);
    files.push({ name: file.name, paragraphs });
    chunks += paragraphs.length;
  }
  // Shuffled, so any first n queries come from across the corpus.
  for (let i = queries.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [queries[i], queries[j]] = [queries[j]!, queries[i]!];
  }
  return { files, chunks, queries };
}

/**
 * For what the prose cannot fill: chunks of three to six sentences drawn from across the prose, so
 * the filler reads like the rest (English words, documentation's topics) and each chunk is new. Zipf
 * text of made-up words would sit apart from every prose query, an island HNSW's greedy search
 * has no gradient into, which is not what a knowledge base of documents looks like.
 */
export function recombinedProse(prose: ProseFile[], seed: number): () => string {
  const rand = random(seed);
  const sentences = prose.flatMap((file) => file.paragraphs.flatMap((p) => p.split('. '))).filter((s) => s.length > 20);
  return () => Array.from({ length: 3 + Math.floor(rand() * 4) }, () => sentences[Math.floor(rand() * sentences.length)]).join('. ');
}

/** Prose paragraphs joined into Markdown of about `chars` characters, from paragraph `offset` on (wrapping). */
export function proseText(paragraphs: string[], offset: number, chars: number): string {
  const parts: string[] = [];
  for (let i = offset, length = 0; length < chars; i++) {
    const paragraph = paragraphs[i % paragraphs.length]!;
    parts.push(paragraph);
    length += paragraph.length + 2;
  }
  return parts.join('\n\n');
}
