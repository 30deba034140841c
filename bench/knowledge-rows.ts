import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sql, type CompiledQuery, type QueryExecutor, type Transaction } from 'kysely';
import type { DatabaseSchema, PostgresDatabase } from '../backend/src/database/index.ts';
import { EmbeddingModels } from '../backend/src/knowledge/embedding-models.ts';
import { KnowledgeSearch, type SearchMode } from '../backend/src/knowledge/index.ts';
import type { Runtime } from '../backend/src/runtime.ts';
import type { BenchApp } from './bench-app.ts';
import { keepAliveClient, load, measure, percentile, type BenchResult } from './harness.ts';

/*
 * The knowledge bench's rows, shared by the prose corpus (knowledge.bench.ts) and the `--large`
 * synthetic set (knowledge-large.ts): each measures one line of issue 20's table.
 */

export type Recorder = (result: BenchResult) => void;

export interface Query {
  text: string;
  /** The document the query was drawn from, when it has one: a hit there counts for home@10. */
  homeDocument?: string;
}

/** A row that is one figure, not a latency distribution. */
export function figure(
  meta: { name: string; driver: string; target?: string },
  note: string,
  extra: Partial<BenchResult> = {},
): BenchResult {
  return { ...meta, n: 1, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, throughput: 0, note: `${note}; ${load()}`, ...extra };
}

/**
 * Builds `model`'s HNSW index through the product's own definition (or another `graph`, to
 * compare), with `maintenanceWorkMem`
 * for the build where given (the graph of a large set does not fit pgvector's default 64 MB, and a
 * build past it slows down many times); resolves to the seconds it took.
 */
export async function buildIndex(
  database: PostgresDatabase,
  model: string,
  dimensions: number,
  options: { maintenanceWorkMem?: string | undefined; graph?: { m: number; efConstruction: number } | undefined } = {},
): Promise<number> {
  const t0 = performance.now();
  await database.transaction(async (tx) => {
    if (options.maintenanceWorkMem) await sql`select set_config('maintenance_work_mem', ${options.maintenanceWorkMem}, true)`.execute(tx);
    await EmbeddingModels.createIndex(tx, model, dimensions, options.graph);
  });
  return (performance.now() - t0) / 1000;
}

export async function dropIndex(database: PostgresDatabase, model: string): Promise<void> {
  await sql`drop index if exists ${sql.id(EmbeddingModels.indexName(model))}`.execute(database.db);
}

/** p50/p95/p99 of each search mode over `queries`, in process; home@10 in the note where queries have homes. */
export async function searchRows(
  runtime: Runtime,
  userId: string,
  queries: Query[],
  meta: { driver: string; corpus: string; targets: Partial<Record<SearchMode, string>> },
  record: Recorder,
): Promise<void> {
  for (const mode of ['vector', 'keyword', 'hybrid'] as SearchMode[]) {
    let i = 0;
    let homes = 0;
    let asked = 0;
    const warmup = 20;
    const target = meta.targets[mode];
    const result = await measure(
      { name: `search ${mode}, ${meta.corpus}, limit 10`, driver: meta.driver, ...(target ? { target } : {}) },
      async () => {
        const query = queries[i++ % queries.length]!;
        const { results } = await runtime.knowledgeSearch.search(userId, { query: query.text, limit: 10, threshold: 0, mode });
        if (i > warmup && query.homeDocument) {
          asked++;
          if (results.some((r) => r.documentId === query.homeDocument)) homes++;
        }
      },
      { n: 200, warmup },
    );
    record({ ...result, note: `${asked ? `home@10 ${(homes / asked).toFixed(3)}; ` : ''}${load()}` });
  }
}

/** recall@10 of the product's vector search against an exact (sequential) scan, over `queries`. */
export async function indexRecall(
  runtime: Runtime,
  userId: string,
  queries: Query[],
  model: { name: string; dimensions: number },
): Promise<number> {
  const embedder = await runtime.knowledge.embedder(model.name);
  let found = 0;
  for (const query of queries) {
    const [vector] = await embedder.embed([query.text]);
    const q = sql`${`[${vector!.join(',')}]`}::vector(${sql.lit(model.dimensions)})`;
    const exact = await runtime.database.transaction(async (tx) => {
      await sql`set local enable_indexscan = off`.execute(tx);
      await sql`set local enable_bitmapscan = off`.execute(tx);
      const { rows } = await sql<{
        chunk_id: string;
      }>`select chunk_id from kb_embeddings where model = ${model.name} and user_id = ${userId}
        order by embedding::vector(${sql.lit(model.dimensions)}) <=> ${q} limit 10`.execute(tx);
      return rows.map((r) => r.chunk_id);
    });
    const { results } = await runtime.knowledgeSearch.search(userId, { query: query.text, limit: 10, threshold: 0, mode: 'vector' });
    const approximate = new Set(results.map((r) => r.chunkId));
    found += exact.filter((id) => approximate.has(id)).length / Math.max(1, exact.length);
  }
  return found / queries.length;
}

/**
 * `perMinute` hybrid searches a minute over HTTP from `clients` clients, each on its own kept-alive
 * connection, for `seconds`, on a fixed schedule: a latency runs from when the request was due,
 * so a server that falls behind shows it (no coordinated omission).
 */
export async function loadRow(
  app: BenchApp,
  queries: Query[],
  meta: { driver: string; corpus: string; clients: number; perMinute: number; seconds: number; target: string },
  record: Recorder,
): Promise<void> {
  const interval = (60_000 * meta.clients) / meta.perMinute;
  const perClient = Math.round((meta.seconds * 1000) / interval);
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const start = performance.now() + 100;
  await Promise.all(
    Array.from({ length: meta.clients }, async (_, c) => {
      const client = keepAliveClient(app.url, { authorization: `Bearer ${app.token}` });
      for (let k = 0; k < perClient; k++) {
        const due = start + (c * interval) / meta.clients + k * interval;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        try {
          const response = await client('POST', '/v1/knowledge/search', { query: queries[next++ % queries.length]!.text, limit: 10 });
          if (response.status !== 200) errors++;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - due);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  record({
    name: `${meta.perMinute} hybrid searches/min from ${meta.clients} clients for ${meta.seconds} s (HTTP), ${meta.corpus}`,
    driver: meta.driver,
    n: latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    throughput: latencies.length / ((performance.now() - start) / 1000),
    target: meta.target,
    note: `${errors} errors; ${load()}`,
  });
}

/** Ingestion through the whole pipeline (parse, chunk, embed, store) into the index in place. */
export async function ingestionRow(
  app: BenchApp,
  documents: string[],
  meta: { driver: string; corpus: string; target: string },
  record: Recorder,
): Promise<void> {
  const { runtime, userId } = app;
  const t0 = performance.now();
  const ids: string[] = [];
  for (const [i, text] of documents.entries())
    ids.push((await runtime.knowledge.create(userId, { bytes: Buffer.from(text), title: `ingest ${i}.md` })).document.id);
  await runtime.knowledge.idle();
  const seconds = (performance.now() - t0) / 1000;
  let chunks = 0;
  for (const id of ids) chunks += (await runtime.knowledge.get(userId, id)).chunkCount;
  record(
    figure(
      { name: `ingestion of ${documents.length} documents into ${meta.corpus}`, ...meta },
      `${chunks} chunks in ${seconds.toFixed(1)} s`,
      {
        n: chunks,
        throughput: chunks / seconds,
      },
    ),
  );
}

/**
 * Hybrid searches and document lists over HTTP, one after the other, while `text` (about 2,000
 * chunks at `chunkSize`) is ingested; and the event loop's delay meanwhile.
 */
export async function searchDuringIngestRows(
  app: BenchApp,
  text: string,
  queries: Query[],
  meta: { driver: string; chunkSize: number; target: string },
  record: Recorder,
): Promise<void> {
  const { runtime, userId } = app;
  const client = keepAliveClient(app.url, { authorization: `Bearer ${app.token}` });
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const { document } = await runtime.knowledge.create(userId, {
    bytes: Buffer.from(text),
    title: 'big.md',
    chunkSize: meta.chunkSize,
    overlap: Math.round(meta.chunkSize / 10),
  });
  let done = false;
  void runtime.knowledge.idle().then(() => (done = true));
  const searches: number[] = [];
  const lists: number[] = [];
  let errors = 0;
  for (let i = 0; !done; i++) {
    let t0 = performance.now();
    const search = await client('POST', '/v1/knowledge/search', { query: queries[i % queries.length]!.text, limit: 10 });
    if (search.status !== 200) errors++;
    searches.push(performance.now() - t0);
    t0 = performance.now();
    const list = await client('GET', '/v1/knowledge/documents?limit=20');
    if (list.status !== 200) errors++;
    lists.push(performance.now() - t0);
  }
  histogram.disable();
  const chunks = (await runtime.knowledge.get(userId, document.id)).chunkCount;
  for (const [name, latencies, target] of [
    ['hybrid search over HTTP', searches, meta.target],
    ['GET /v1/knowledge/documents', lists, 'p99 ≤ 200 ms (spec)'],
  ] as const) {
    latencies.sort((a, b) => a - b);
    record({
      name: `${name} during a ${chunks}-chunk ingest`,
      driver: meta.driver,
      n: latencies.length,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      throughput: 0,
      target,
      note: `${errors} errors; ${load()}`,
    });
  }
  record({
    name: `event-loop delay during a ${chunks}-chunk ingest`,
    driver: meta.driver,
    n: 1,
    p50: histogram.percentile(50) / 1e6,
    p95: histogram.percentile(95) / 1e6,
    p99: histogram.percentile(99) / 1e6,
    throughput: 0,
    target: 'p99 ≤ 50 ms',
    note: `max ${(histogram.max / 1e6).toFixed(0)} ms`,
  });
}

/**
 * Prints the plan and timing (`EXPLAIN (ANALYZE, BUFFERS)`) of each mode's search statement for
 * `query`, as the product sends it: what to look at before changing a query or an index.
 */
/** Kysely's classes keep private fields: their methods must run on themselves, not on a proxy. */
const bound = (target: object, value: unknown): unknown =>
  typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;

export async function explainSearches(runtime: Runtime, userId: string, query: string): Promise<void> {
  const explaining = <T extends object>(provider: T): T =>
    new Proxy(provider, {
      get(target, key, receiver) {
        if (key !== 'getExecutor') return bound(target, Reflect.get(target, key, receiver));
        return () => {
          const executor = (target as unknown as { getExecutor(): QueryExecutor }).getExecutor();
          return new Proxy(executor, {
            get(inner, name, innerReceiver) {
              if (name !== 'executeQuery') return bound(inner, Reflect.get(inner, name, innerReceiver));
              return async (compiled: CompiledQuery) => {
                if (/\bkb_chunks\b/.test(compiled.sql)) {
                  const plan = await inner.executeQuery<{ 'QUERY PLAN': string }>({
                    ...compiled,
                    sql: `explain (analyze, buffers) ${compiled.sql}`,
                  });
                  // The query's vector is thousands of characters on every line that names it.
                  console.log(plan.rows.map((r) => r['QUERY PLAN'].replace(/'\[[^\]']*\]'::vector/g, "'[…]'::vector")).join('\n'));
                }
                return inner.executeQuery(compiled);
              };
            },
          });
        };
      },
    });
  const { database } = runtime;
  const explained = {
    db: explaining(database.db),
    transaction: <R>(fn: (tx: Transaction<DatabaseSchema>) => Promise<R>) => database.db.transaction().execute((tx) => fn(explaining(tx))),
  } as unknown as PostgresDatabase;
  const search = new KnowledgeSearch(explained, runtime.knowledge);
  for (const mode of ['vector', 'keyword', 'hybrid'] as SearchMode[]) {
    console.log(`\n--- ${mode}: ${query.slice(0, 80)}`);
    await search.search(userId, { query, limit: 10, threshold: 0, mode });
  }
}
