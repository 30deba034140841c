import { sql } from 'kysely';
import type { PostgresDatabase } from '../database/index.ts';

/**
 * Matches the rarer words may bring (by the planner's statistics) before commoner ones are left
 * out. `ts_rank_cd` reads every ranked chunk's text vector, so ranking every match of a common word
 * costs time in proportion to the knowledge base (0.3 s at 20k chunks on the embedded database); a
 * bounded set keeps keyword and hybrid search inside their budget at any size. Twice as many are
 * ranked at most (`rankLimit`), as the statistics are estimates.
 */
export const candidateBudget = 1000;

/** How long word frequencies are reused before they are read again (the statistics change slowly). */
const frequenciesTtlMs = 60_000;

/** Words whose lexemes are remembered: a word's lexemes never change, and queries repeat words. */
const lexemeCacheSize = 10_000;

interface Frequencies {
  /** Share of chunks (0 to 1) holding each of the commonest lexemes. */
  byLexeme: Map<string, number>;
  /** A lexeme not listed is rarer than this. */
  unlisted: number;
  /** Chunks in the table, by the planner's last count. */
  chunks: number;
}

/**
 * The words a keyword search finds its candidates by. Chunks holding all of `all` come first (when
 * it is not empty), then chunks holding any of `any`, until the rank limit.
 */
export interface CandidateWords {
  any: string[];
  all: string[];
}

/**
 * Picks the words a keyword search looks matches up by, rarer words first: the words whose
 * matches together stay within `budget` chunks, and always the rarest. The other (commoner) words
 * still count in the rank of every chunk found; a chunk holding only common words is not found.
 * The rarer words are the ones that tell documents apart, so this keeps the best matches while
 * bounding the work. When even the rarest word matches more than the budget, the chunks holding
 * it together with the next rarer words are looked up first (`all`): otherwise the candidates
 * would be whichever of its matches the table stores first, and the chunks holding every word of
 * the query, the best matches, could be left out. Frequencies come from PostgreSQL's own
 * statistics on `kb_chunks.tsv` (pg_stats), kept fresh by ANALYZE (planner-statistics.ts on the
 * embedded database, autovacuum on a server).
 */
export class KeywordCandidates {
  private frequencies: { at: number; value: Promise<Frequencies> } | undefined;
  /** Each word's lexemes under the 'english' configuration, oldest first. */
  private readonly lexemes = new Map<string, string[]>();

  /** Chunks ranked at most, whatever the estimates said. */
  readonly rankLimit: number;

  constructor(
    private readonly database: PostgresDatabase,
    private readonly budget = candidateBudget,
  ) {
    this.rankLimit = 2 * budget;
  }

  /** The words of `words` to find candidates by; `any` is empty when none of them can match (stop words only). */
  async words(words: string[]): Promise<CandidateWords> {
    const frequencies = await this.current();
    // One word per set of lexemes: "reports" and "report" match the same chunks.
    const byLexemes = new Map<string, { word: string; lexemes: string[] }>();
    for (const row of await this.lexemesOf(words)) {
      const key = row.lexemes.join(' ');
      if (row.lexemes.length > 0 && !byLexemes.has(key)) byLexemes.set(key, row);
    }
    return pickCandidateWords(
      [...byLexemes.values()].map((r) => ({ word: r.word, share: Math.max(...r.lexemes.map((l) => share(frequencies, l))) })),
      this.budget / Math.max(1, frequencies.chunks),
    );
  }

  /** Each word's lexemes, from the cache or (for words not seen lately) from the database in one statement. */
  private async lexemesOf(words: string[]): Promise<Array<{ word: string; lexemes: string[] }>> {
    const unknown = [...new Set(words.filter((w) => !this.lexemes.has(w)))];
    if (unknown.length > 0) {
      const { rows } = await sql<{ word: string; lexemes: string[] }>`
        select w as word, tsvector_to_array(to_tsvector('english', w)) as lexemes
          from unnest(${unknown}::text[]) as w`.execute(this.database.db);
      for (const row of rows) {
        if (this.lexemes.size >= lexemeCacheSize) this.lexemes.delete(this.lexemes.keys().next().value!);
        this.lexemes.set(row.word, row.lexemes);
      }
    }
    return words.map((word) => ({ word, lexemes: this.lexemes.get(word) ?? [] }));
  }

  /** The cached frequencies; stale ones serve while fresh ones load, so only the first search waits. */
  private current(): Promise<Frequencies> {
    const now = Date.now();
    if (this.frequencies && now - this.frequencies.at <= frequenciesTtlMs) return this.frequencies.value;
    const loading = this.load();
    const stale = this.frequencies;
    this.frequencies = { at: now, value: stale?.value ?? loading };
    loading.then(
      (value) => (this.frequencies = { at: now, value: Promise.resolve(value) }),
      () => (this.frequencies = stale), // tried again by the next search
    );
    return this.frequencies.value;
  }

  private async load(): Promise<Frequencies> {
    const { rows } = await sql<{ lexemes: string[] | null; freqs: number[] | null; chunks: number | string }>`
      select s.most_common_elems::text::text[] as lexemes, s.most_common_elem_freqs as freqs,
             (select c.reltuples from pg_class c where c.oid = 'kb_chunks'::regclass) as chunks
        from (select 1) as one
        left join pg_stats s on s.schemaname = current_schema() and s.tablename = 'kb_chunks' and s.attname = 'tsv'`.execute(
      this.database.db,
    );
    const row = rows[0];
    const lexemes = row?.lexemes ?? [];
    const freqs = (row?.freqs ?? []).map(Number);
    // The frequencies list one entry per lexeme, then the least and the greatest of them.
    return {
      byLexeme: new Map(lexemes.map((lexeme, i) => [lexeme, freqs[i] ?? 0])),
      unlisted: freqs[lexemes.length] ?? 0,
      chunks: Math.max(0, Number(row?.chunks ?? 0)),
    };
  }
}

function share(frequencies: Frequencies, lexeme: string): number {
  return frequencies.byLexeme.get(lexeme) ?? frequencies.unlisted;
}

/**
 * `any`: rarest first, while the shares add up to at most `budget` (and always the rarest).
 * `all`, when the rarest alone is over the budget: rarest first, until the chunks holding all of
 * them are expected within the budget (taking the words as independent) or the words run out;
 * at least two words, as one would find what `any` finds.
 */
export function pickCandidateWords(words: Array<{ word: string; share: number }>, budget: number): CandidateWords {
  const rarest = [...words].sort((a, b) => a.share - b.share);
  const any: string[] = [];
  let total = 0;
  for (const { word, share } of rarest) {
    if (any.length > 0 && total + share > budget) break;
    any.push(word);
    total += share;
  }
  const all: string[] = [];
  if (total > budget && rarest.length > 1) {
    let together = 1;
    for (const { word, share } of rarest) {
      all.push(word);
      together *= share;
      if (all.length > 1 && together <= budget) break;
    }
  }
  return { any, all };
}
