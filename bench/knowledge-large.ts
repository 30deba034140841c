import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { sql } from 'kysely';
import pg from 'pg';
import { hashingEmbedding, localHashingDimensions } from '../backend/src/providers/local-hashing-embedder.ts';
import { startFakeOpenAi } from '../backend/test/fake-openai.ts';
import type { PostgresCluster } from '../backend/test/postgres-cluster.ts';
import { startBenchApp, type BenchApp } from './bench-app.ts';
import { load, measure } from './harness.ts';
import {
  buildIndex,
  dropIndex,
  explainSearches,
  figure,
  indexRecall,
  ingestionRow,
  loadRow,
  searchDuringIngestRows,
  searchRows,
  type Query,
  type Recorder,
} from './knowledge-rows.ts';
import { buildProseCorpus, proseText, recombinedProse, type ProseFile } from './prose-corpus.ts';
import { clusteredVectors, zipfText } from './synthetic-text.ts';

/*
 * `npm run bench -- knowledge --large`: issue 20's PostgreSQL column at 250k chunks, in two sets,
 * each in its own database, both loaded with COPY through psql and indexed afterwards with the
 * product's HNSW definition (the build is timed):
 *
 * - `openai`: 1536 dimensions, for latency only (recall is measured on real prose). Chunk texts are
 *   synthetic Zipf text; vectors come from `clusteredVectors` (parameters in the build row's note).
 *   Queries are embedded by a local server that speaks OpenAI's embeddings API (the hashing
 *   embedding at 1536 dimensions), so the product's own search answers them. Rows: search p95 per
 *   mode, the query's embedding alone (what of a search is not the database), 1,000 searches a
 *   minute from 20 clients.
 * - `hashing`: `local:hashing` (384 dimensions), chunks of prose sentences recombined from across
 *   node_modules' prose, embedded in the bench by the product's own embedding function, so queries
 *   (word runs of prose paragraphs) embed the same way. Rows: search p95 per mode, ingestion
 *   through the whole pipeline into the 250k index in place, and searches while a 2,000-chunk
 *   document is ingested; then ingestion again with the HNSW index dropped, to show its share.
 *
 * The server gets `shared_buffers` of 4GB for these sets (ALTER SYSTEM and a restart of the bench's
 * own cluster): the 1536 set's HNSW index is about 2 GB (one vector a page), and in PostgreSQL's
 * default 128 MB every search and every insert reads most of the pages it visits through the
 * operating system's cache. A server holding such a set would be given the memory;
 * `--shared-buffers 128MB` measures the default instead.
 *
 * `--large-set openai|hashing` runs one of them (default both, about 10 minutes on two cores);
 * `--large-size N` changes the size of both; `--explain` prints the plans of one query's searches
 * in each set.
 */

export type LargeSet = 'openai' | 'hashing';

/** Another HNSW graph than the product's (`--hnsw M,EF`), to compare. */
type Graph = { m: number; efConstruction: number };

/** What the build row says of the graph. */
const graphNote = (graph: Graph | undefined) => (graph ? `; m = ${graph.m}, ef_construction = ${graph.efConstruction}` : '');

/** Streams `rows` (tab-separated lines) into `table (columns)` with psql's \copy … from pstdin. */
async function copy(url: string, table: string, columns: string, rows: Iterable<string>): Promise<void> {
  const psql = spawn('psql', [url, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `\\copy ${table} (${columns}) from pstdin`], {
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  const exited = once(psql, 'exit');
  for (const row of rows) if (!psql.stdin.write(`${row}\n`)) await once(psql.stdin, 'drain');
  psql.stdin.end();
  const [code] = (await exited) as [number | null];
  if (code !== 0) throw new Error(`psql \\copy into ${table} exited with ${code}`);
}

/**
 * Gives the bench's own cluster `sharedBuffers` (restarting it); leaves a server named by
 * TEST_DATABASE_URL as it is. Resolves to what the rows' notes should say.
 */
export async function sizeSharedBuffers(cluster: PostgresCluster, sharedBuffers: string): Promise<string> {
  if (process.env.TEST_DATABASE_URL) return "shared_buffers as TEST_DATABASE_URL's server has it";
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  try {
    // ALTER SYSTEM takes no parameters; the value is a size such as 4GB, quoted as a literal.
    await admin.query(`alter system set shared_buffers = ${admin.escapeLiteral(sharedBuffers)}`);
  } finally {
    await admin.end();
  }
  await cluster.restart();
  return `shared_buffers ${sharedBuffers}`;
}

/** A value as COPY's text format reads it: backslashes, tabs and line breaks escaped (prose has backslashes). */
const copyText = (value: string) => value.replace(/[\\\t\n\r]/g, (ch) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[ch]!);

const vectorText = (vector: ArrayLike<number>) => `[${Array.from(vector, (x) => x.toFixed(6)).join(',')}]`;

/**
 * Loads `size` chunks of `chunk()` as documents of 100 with their `embed(content)` vectors under
 * `model`, without the model's index (dropped first), then builds the index and analyzes; resolves
 * to the seconds the load (documents and COPY) and the build took.
 */
async function loadSet(
  app: BenchApp,
  url: string,
  set: {
    model: string;
    dimensions: number;
    size: number;
    chunk: () => string;
    embed: (content: string) => ArrayLike<number>;
    graph: Graph | undefined;
  },
): Promise<{ loadSeconds: number; buildSeconds: number }> {
  const db = app.database.db;
  await dropIndex(app.database, set.model);
  const t0 = performance.now();
  const documentIds: string[] = [];
  for (let i = 0; i < set.size / 100; i++) {
    const { id } = await db
      .insertInto('kb_documents')
      .values({
        user_id: app.userId,
        title: `large ${i}`,
        content_type: 'text/plain',
        size_bytes: 0,
        checksum: `large-${i}`,
        storage_key: 'none',
        text: '',
        chunk_size: 500,
        chunk_overlap: 50,
        status: 'completed',
        active_version: 1,
        chunk_count: 100,
        embedding_model: set.model,
        updated_at: new Date(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    documentIds.push(id);
  }
  const chunks = Array.from({ length: documentIds.length * 100 }, () => ({ id: randomUUID(), content: set.chunk() }));
  await copy(
    url,
    'kb_chunks',
    'id, document_id, user_id, version, chunk_index, content, token_count, char_start, char_end',
    (function* () {
      for (const [i, { id, content }] of chunks.entries())
        yield [id, documentIds[Math.floor(i / 100)], app.userId, 1, i % 100, copyText(content), 0, 0, content.length].join('\t');
    })(),
  );
  await copy(
    url,
    'kb_embeddings',
    'chunk_id, model, user_id, embedding',
    (function* () {
      for (const { id, content } of chunks) yield [id, set.model, app.userId, vectorText(set.embed(content))].join('\t');
    })(),
  );
  const loadSeconds = (performance.now() - t0) / 1000;
  const buildSeconds = await buildIndex(app.database, set.model, set.dimensions, { maintenanceWorkMem: '3GB', graph: set.graph });
  await sql`analyze kb_documents, kb_chunks, kb_embeddings`.execute(db);
  return { loadSeconds, buildSeconds };
}

const settings = { RATE_LIMIT_KNOWLEDGE_SEARCH: '1000000' };

async function benchOpenAiSet(
  url: string,
  dataDir: string,
  options: { size: number; loadSeconds: number; explain: boolean; server: string; graph?: Graph | undefined },
  record: Recorder,
): Promise<void> {
  const driver = 'postgres';
  const model = 'openai:text-embedding-3-small';
  const dimensions = 1536;
  const fake = await startFakeOpenAi(dimensions);
  const app = await startBenchApp({ driver, url }, dataDir, {
    ...settings,
    EMBEDDING_MODEL: model,
    OPENAI_BASE_URL: fake.url,
    OPENAI_API_KEY: 'test-key',
  });
  try {
    const label = `${options.size.toLocaleString('en')} chunks × ${dimensions} (synthetic)`;
    const text = zipfText(11);
    const vectors = clusteredVectors({ dimensions, clusters: 1000, spread: 0.02, seed: 13 });
    console.log(`  postgres --large: loading ${label} …`);
    const { loadSeconds, buildSeconds } = await loadSet(app, url, {
      model,
      dimensions,
      size: options.size,
      chunk: text.chunk,
      embed: () => vectors.next(),
      graph: options.graph,
    });
    record(
      figure(
        { name: `HNSW index build, ${label}`, driver },
        `${buildSeconds.toFixed(0)} s with maintenance_work_mem 3GB (COPY ${loadSeconds.toFixed(0)} s); vectors: ${vectors.describe}; ${options.server}${graphNote(options.graph)}`,
        { p50: buildSeconds * 1000 },
      ),
    );
    const queries = Array.from({ length: 200 }, () => ({ text: text.sentence().split(' ').slice(0, 4).join(' ') }));
    await searchRows(
      app.runtime,
      app.userId,
      queries,
      { driver, corpus: label, targets: { vector: 'p95 ≤ 10 ms', hybrid: 'p95 ≤ 30 ms', keyword: 'p95 ≤ 30 ms' } },
      record,
    );
    // What of a search's time is the query's embedding (HTTP to the local server, 1536 numbers in JSON), not the database.
    const embedder = await app.runtime.knowledge.embedder(model);
    let next = 0;
    const embedding = await measure(
      { name: `query embedding alone, ${dimensions} dimensions from the local OpenAI-compatible server`, driver },
      () => embedder.embed([queries[next++ % queries.length]!.text]),
      { n: 200, warmup: 20 },
    );
    record({ ...embedding, note: load() });
    if (options.explain) await explainSearches(app.runtime, app.userId, queries[0]!.text);
    await loadRow(
      app,
      queries,
      { driver, corpus: label, clients: 20, perMinute: 1000, seconds: options.loadSeconds, target: 'p99 ≤ 100 ms, no error' },
      record,
    );
  } finally {
    await app.close();
    await fake.close();
  }
}

async function benchHashingSet(
  url: string,
  dataDir: string,
  prose: ProseFile[],
  options: { size: number; explain: boolean; server: string; graph?: Graph | undefined },
  record: Recorder,
): Promise<void> {
  const driver = 'postgres';
  const model = 'local:hashing';
  const app = await startBenchApp({ driver, url }, dataDir, { ...settings, EMBEDDING_MODEL: model });
  try {
    const label = `${options.size.toLocaleString('en')} chunks × ${localHashingDimensions} (recombined prose)`;
    console.log(`  postgres --large: loading ${label} …`);
    const { loadSeconds, buildSeconds } = await loadSet(app, url, {
      model,
      dimensions: localHashingDimensions,
      size: options.size,
      chunk: recombinedProse(prose, 17),
      embed: (content) => hashingEmbedding(content),
      graph: options.graph,
    });
    record(
      figure(
        { name: `HNSW index build, ${label}`, driver },
        `${buildSeconds.toFixed(0)} s with maintenance_work_mem 3GB (rows and local:hashing vectors computed and COPYed in ${loadSeconds.toFixed(0)} s); ${options.server}${graphNote(options.graph)}`,
        { p50: buildSeconds * 1000 },
      ),
    );
    // Word runs of prose paragraphs: their sentences are somewhere in the recombined chunks.
    const queries: Query[] = buildProseCorpus(prose, { size: 20_000, queryCount: 200, seed: 42 }).queries.map((q) => ({ text: q.text }));
    await searchRows(app.runtime, app.userId, queries, { driver, corpus: label, targets: {} }, record);
    // Real words: recall is measured here too, as at every size the prose sets reach.
    const recall = await indexRecall(app.runtime, app.userId, queries.slice(0, 100), { name: model, dimensions: localHashingDimensions });
    record(
      figure({ name: `HNSW recall@10 vs exact scan, ${label}, prose queries`, driver, target: '≥ 0.95' }, recall.toFixed(3), { n: 100 }),
    );
    if (options.explain) await explainSearches(app.runtime, app.userId, queries[0]!.text);

    const paragraphs = prose.flatMap((file) => file.paragraphs);
    // Twenty documents of about 120k characters (some 60 chunks of 500 tokens each), as on the smaller sets.
    const ingest = Array.from({ length: 20 }, (_, i) => proseText(paragraphs, 20_000 + i * 400, 120_000));
    await ingestionRow(app, ingest, { driver, corpus: label, target: '≥ 500 chunks/s into 250k' }, record);
    // About 2,000 chunks of 200 tokens.
    await searchDuringIngestRows(
      app,
      proseText(paragraphs, 0, 1_250_000),
      queries,
      { driver, chunkSize: 200, target: 'p99 ≤ 100 ms' },
      record,
    );
    // Where ingestion's time goes: the same pipeline into the same table with its HNSW index dropped (not rebuilt).
    await dropIndex(app.database, model);
    const more = Array.from({ length: 20 }, (_, i) => proseText(paragraphs, 40_000 + i * 400, 120_000));
    await ingestionRow(app, more, { driver, corpus: `${label}, its HNSW index dropped (to compare)`, target: '-' }, record);
  } finally {
    await app.close();
  }
}

/** Runs the `--large` set `set` in the (new, empty) database at `url`. */
export async function benchLarge(
  set: LargeSet,
  url: string,
  dataDir: string,
  prose: ProseFile[],
  options: { size: number; loadSeconds: number; explain: boolean; server: string; graph?: Graph | undefined },
  record: Recorder,
): Promise<void> {
  if (set === 'openai') await benchOpenAiSet(url, dataDir, options, record);
  else await benchHashingSet(url, dataDir, prose, options, record);
}
