import { sql, type RawBuilder } from 'kysely';
import type { JsonValue, PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';
import { vectorLiteral } from './embedding-models.ts';
import { KeywordCandidates, type CandidateWords } from './keyword-candidates.ts';
import type { KnowledgeBase } from './knowledge-base.ts';

export type SearchMode = 'hybrid' | 'vector' | 'keyword';

export interface SearchQuery {
  query: string;
  limit: number;
  threshold: number;
  mode: SearchMode;
  filters?:
    | {
        tags?: string[] | undefined;
        dateRange?: { start?: string | undefined; end?: string | undefined } | undefined;
        documentIds?: string[] | undefined;
        source?: string | undefined;
      }
    | undefined;
}

export interface SearchResult {
  chunkId: string;
  documentId: string;
  title: string;
  content: string;
  /** Cosine similarity of the query's and the chunk's vectors (the active model's). */
  similarity: number;
  /** What the results are ranked by: fused rank (hybrid), similarity (vector), text rank (keyword). */
  score: number;
  metadata: { chunkIndex: number; charStart: number; charEnd: number; tags: string[]; source: string | null; document: JsonValue };
}

export interface SearchAnswer {
  results: SearchResult[];
  /**
   * The search found more passages above the threshold than `limit`: a larger limit shows more.
   * (A count of every match would mean ranking every chunk of a large knowledge base, which is
   * what keeps searches fast to avoid; vector search matches every chunk to some degree.)
   */
  hasMore: boolean;
}

interface Row {
  id: string;
  document_id: string;
  title: string;
  content: string;
  chunk_index: number;
  char_start: number;
  char_end: number;
  tags: string[];
  source: string | null;
  metadata: JsonValue;
  similarity: number | string | null;
  rank: number | string | null;
  /** Which ranked list the row came from. */
  list: 'vector' | 'keyword';
}

/** What every result carries, from a chunk `c` and its document `d`. */
const resultColumns = sql.raw(
  'c.id, c.document_id, d.title, c.content, c.chunk_index, c.char_start, c.char_end, d.tags, d.source, d.metadata',
);

/**
 * The HNSW candidate list of every search, at least: with the index's parameters
 * (embedding-models.ts) 300 found 0.97 of the exact nearest ten at 250k chunks of prose on
 * PostgreSQL (200 found 0.955, too close to the 0.95 promised) and 0.99 at 20k on both databases
 * (bench/knowledge.bench.ts, knowledge-large.ts).
 */
const minEfSearch = 300;

/** Reciprocal rank fusion's constant: ranks deep in either list still count, but little. */
const rrfK = 60;

/**
 * Search over one user's chunks: nearest neighbours by cosine (pgvector HNSW), PostgreSQL
 * full-text, or both fused by reciprocal rank. The owner filter is part of every SQL statement,
 * inside the nearest-neighbour scan; on pgvector ≥ 0.8 the scan is iterative, so filtered queries
 * still fill `limit`, and below that it over-fetches. Keyword matches are ranked among a bounded
 * set of candidates found by the query's rarer words (keyword-candidates.ts), so neither mode's
 * cost grows with the number of chunks a common word matches. The threshold applies before each
 * list's limit, so a page holds `limit` passages whenever that many above it match.
 */
export class KnowledgeSearch {
  private iterative: Promise<boolean> | undefined;
  private readonly candidates: KeywordCandidates;

  /**
   * `iterativeScan` overrides what the installed pgvector's version says: false takes the path for
   * pgvector below 0.8 (over-fetch, no iterative scan) on any version, so that path stays tested on
   * a newer server. `candidateBudget` bounds keyword candidates (see KeywordCandidates).
   */
  constructor(
    private readonly database: PostgresDatabase,
    private readonly knowledge: KnowledgeBase,
    options: { iterativeScan?: boolean; candidateBudget?: number } = {},
  ) {
    if (options.iterativeScan !== undefined) this.iterative = Promise.resolve(options.iterativeScan);
    this.candidates = new KeywordCandidates(database, options.candidateBudget);
  }

  async search(userId: string, query: SearchQuery): Promise<SearchAnswer> {
    const model = await this.knowledge.models.active();
    if (!model) throw new AppError('FEATURE_UNAVAILABLE', 'The knowledge base has no embedding model yet.');
    const [vector] = await (await this.knowledge.embedder(model.model)).embed([query.query]);
    const queryVector = sql`${vectorLiteral(vector!)}::vector(${sql.lit(model.dimensions)})`;
    const embedding = sql`e.embedding::vector(${sql.lit(model.dimensions)})`;
    const filters = this.filters(userId, query.filters);
    // One more than the page, so the answer can say whether more passages match.
    const pool = query.mode === 'hybrid' ? Math.max(query.limit * 4, 40) : query.limit + 1;
    const iterative = await (this.iterative ??= this.supportsIterativeScan());
    const words = keywordQuery(query.query);
    const candidateWords = query.mode === 'vector' || !words ? undefined : await this.candidates.words(keywordWords(query.query));

    // One statement for both lists: on the embedded database every statement is a turn at the
    // only connection, waiting behind whatever holds it.
    const lists: RawBuilder<Row>[] = [];
    if (query.mode !== 'keyword')
      lists.push(sql<Row>`
        (select ${resultColumns}, 1 - (${embedding} <=> ${queryVector}) as similarity, null::real as rank, 'vector' as list
           from kb_embeddings e
           join kb_chunks c on c.id = e.chunk_id
           join kb_documents d on d.id = c.document_id and d.active_version = c.version
          where e.model = ${model.model} and e.user_id = ${userId} and ${filters}
          order by ${embedding} <=> ${queryVector}
          limit ${pool})`);
    if (words && candidateWords && candidateWords.any.length > 0)
      // Ranks a bounded set of candidates (keyword-candidates.ts), then reads their vectors in rank
      // order only until the pool is full of chunks above the threshold: the subquery's own order
      // keeps it from being flattened, so the join below runs lazily under the limit.
      lists.push(sql<Row>`
        (select ${resultColumns}, coalesce(1 - (${embedding} <=> ${queryVector}), 0) as similarity, ranked.rank, 'keyword' as list
           from (select k.id, ts_rank_cd(k.tsv, q.query, 1) as rank
                   from (${this.candidateChunks(userId, filters, candidateWords)} limit ${this.candidates.rankLimit}) as k,
                        to_tsquery('english', ${words}) as q(query)
                  order by rank desc, k.id) as ranked
           join kb_chunks c on c.id = ranked.id
           join kb_documents d on d.id = c.document_id
           left join kb_embeddings e on e.chunk_id = c.id and e.model = ${model.model}
          where coalesce(1 - (${embedding} <=> ${queryVector}), 0) >= ${query.threshold}
          order by ranked.rank desc, ranked.id
          limit ${pool})`);
    const settings = [
      // The chunks a search reads are in memory (the embedded database) or mostly so: priced as
      // such, the planner finds keyword candidates through the GIN index instead of reading every
      // chunk's text vector (a scan of 10-16 ms at 20k chunks).
      sql`set_config('random_page_cost', '1.1', true)`,
      // Keyword candidates are taken from the branches of a `union all` in order (candidateChunks),
      // which a parallel plan would interleave; one user's search gains little from workers anyway.
      sql`set_config('max_parallel_workers_per_gather', '0', true)`,
    ];
    if (query.mode !== 'keyword') {
      settings.push(sql`set_config('hnsw.ef_search', ${String(Math.min(1000, Math.max(minEfSearch, pool * (iterative ? 4 : 10))))}, true)`);
      // pgvector below 0.8 has no hnsw.iterative_scan, and its prefix is reserved: not named there.
      if (iterative) settings.push(sql`set_config('hnsw.iterative_scan', 'relaxed_order', true)`);
    }
    const rows =
      lists.length === 0
        ? []
        : await this.database.transaction(async (tx) => {
            await sql`select ${sql.join(settings)}`.execute(tx);
            return (await sql<Row>`${sql.join(lists, sql` union all `)}`.execute(tx)).rows;
          });
    const vectorRows = rows.filter((r) => r.list === 'vector');
    const keywordRows = rows.filter((r) => r.list === 'keyword');

    const matches = fuse(query.mode, vectorRows, keywordRows).filter((r) => r.similarity >= query.threshold);
    return { results: matches.slice(0, query.limit), hasMore: matches.length > query.limit };
  }

  /**
   * Chunks holding all of `words.all`, then (a branch PostgreSQL starts only if the limit is not
   * reached yet) chunks holding any of `words.any`.
   */
  private candidateChunks(userId: string, filters: RawBuilder<boolean>, words: CandidateWords): RawBuilder<unknown> {
    const holding = (match: RawBuilder<boolean>) =>
      sql`select c.id, c.tsv
            from kb_chunks c
            join kb_documents d on d.id = c.document_id and d.active_version = c.version
           where c.user_id = ${userId} and ${match} and ${filters}`;
    const any = sql<boolean>`c.tsv @@ to_tsquery('english', ${words.any.join(' | ')})`;
    if (words.all.length === 0) return holding(any);
    const all = sql<boolean>`c.tsv @@ to_tsquery('english', ${words.all.join(' & ')})`;
    return sql`(${holding(all)}) union all (${holding(sql<boolean>`${any} and not ${all}`)})`;
  }

  private filters(userId: string, filters: SearchQuery['filters']): RawBuilder<boolean> {
    const parts: RawBuilder<unknown>[] = [sql`d.user_id = ${userId}`];
    if (filters?.tags?.length) parts.push(sql`d.tags @> ${filters.tags}::text[]`);
    if (filters?.documentIds?.length) parts.push(sql`d.id = any(${filters.documentIds}::uuid[])`);
    if (filters?.source !== undefined) parts.push(sql`d.source = ${filters.source}`);
    if (filters?.dateRange?.start) parts.push(sql`d.created_at >= ${filters.dateRange.start}::timestamptz`);
    if (filters?.dateRange?.end) parts.push(sql`d.created_at <= ${filters.dateRange.end}::timestamptz`);
    return sql<boolean>`(${sql.join(parts, sql` and `)})`;
  }

  private async supportsIterativeScan(): Promise<boolean> {
    const row = await sql<{ extversion: string }>`select extversion from pg_extension where extname = 'vector'`.execute(this.database.db);
    const [major = 0, minor = 0] = (row.rows[0]?.extversion ?? '0.0').split('.').map(Number);
    return major > 0 || minor >= 8;
  }
}

/**
 * The query's words joined by OR, for `to_tsquery`: a chunk that has some of the words matches,
 * ranked higher the more it has. Only letters and digits pass, so the syntax cannot be injected.
 */
export function keywordQuery(text: string): string | undefined {
  const words = keywordWords(text);
  return words.length > 0 ? words.join(' | ') : undefined;
}

/** The query's words (letters and digits only), at most 64. */
function keywordWords(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, 64);
}

function toResult(row: Row, score: number): SearchResult {
  return {
    chunkId: row.id,
    documentId: row.document_id,
    title: row.title,
    content: row.content,
    similarity: Number(row.similarity ?? 0),
    score,
    metadata: {
      chunkIndex: row.chunk_index,
      charStart: row.char_start,
      charEnd: row.char_end,
      tags: row.tags,
      source: row.source,
      document: row.metadata,
    },
  };
}

function fuse(mode: SearchMode, vectorRows: Row[], keywordRows: Row[]): SearchResult[] {
  if (mode === 'vector') return vectorRows.map((r) => toResult(r, Number(r.similarity))).sort((a, b) => b.score - a.score);
  if (mode === 'keyword') return keywordRows.map((r) => toResult(r, Number(r.rank)));
  const fused = new Map<string, { row: Row; score: number }>();
  // relaxed_order may return neighbours slightly out of order: rank by similarity ourselves.
  const byDistance = [...vectorRows].sort((a, b) => Number(b.similarity) - Number(a.similarity));
  for (const list of [byDistance, keywordRows]) {
    list.forEach((row, rank) => {
      const entry = fused.get(row.id) ?? { row, score: 0 };
      entry.score += 1 / (rrfK + rank + 1);
      fused.set(row.id, entry);
    });
  }
  return [...fused.values()].sort((a, b) => b.score - a.score).map(({ row, score }) => toResult(row, score));
}
