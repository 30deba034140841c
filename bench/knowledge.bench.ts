import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import type { DatabaseTarget } from '../backend/src/database/index.ts';
import { vectorLiteral } from '../backend/src/knowledge/embedding-models.ts';
import { hashingEmbedding, localHashingDimensions } from '../backend/src/providers/local-hashing-embedder.ts';
import { startPostgresCluster, type PostgresCluster } from '../backend/test/postgres-cluster.ts';
import { startBenchApp, type BenchApp } from './bench-app.ts';
import { createDatabase, type Bench } from './harness.ts';
import { benchLarge, sizeSharedBuffers, type LargeSet } from './knowledge-large.ts';
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
import { buildProseCorpus, proseText, readProse, recombinedProse, type ProseFile } from './prose-corpus.ts';
import { zipfText } from './synthetic-text.ts';

/*
 * The knowledge base with local:hashing on both drivers, on real English prose (prose-corpus.ts):
 * search latency per mode, the HNSW index's recall@10 against an exact scan, 1,000 searches a
 * minute from 20 clients, ingestion throughput into the index in place, and searches while a
 * 2,000-chunk document is ingested. Each row carries its target from issue 20's table.
 *
 * Options: `--driver pglite|postgres` (default both), `--size N` (chunks; default 20k on PGlite,
 * 50k on PostgreSQL; past the prose available, chunks recombined from its sentences fill up, and the row says so),
 * `--load-seconds N` (default 60), `--searches-only` (stop after the search rows and recall), `--large` (also the 250k sets on
 * PostgreSQL: 1536-dimension synthetic vectors, and local:hashing on recombined prose; `--large-set openai|hashing` runs one,
 * `--large-size N` changes their size, `--shared-buffers SIZE` the server's shared_buffers for them (default 4GB); see knowledge-large.ts),
 * `--explain` (print the plans of three queries' searches), `--hnsw M,EF` (build the index with m = M and ef_construction = EF instead of the product's, to compare; in the `--large` sets too).
 */

const model = 'local:hashing';
const batch = 500;

/** Stores `files` as one document each, `batch` chunks to a statement, with their local:hashing vectors. */
async function loadFiles(app: BenchApp, userId: string, files: ProseFile[]): Promise<Map<string, string>> {
  const db = app.database.db;
  const documents = new Map<string, string>();
  for (const file of files) {
    if (file.paragraphs.length === 0) continue;
    const doc = await db
      .insertInto('kb_documents')
      .values({
        user_id: userId,
        title: file.name,
        content_type: 'text/markdown',
        size_bytes: 0,
        checksum: `bench-${file.name}`,
        storage_key: 'none',
        text: '',
        chunk_size: 500,
        chunk_overlap: 50,
        status: 'completed',
        active_version: 1,
        chunk_count: file.paragraphs.length,
        embedding_model: model,
        updated_at: new Date(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    documents.set(file.name, doc.id);
    for (let from = 0; from < file.paragraphs.length; from += batch) {
      const contents = file.paragraphs.slice(from, from + batch);
      const chunks = await db
        .insertInto('kb_chunks')
        .values(
          contents.map((content, i) => ({
            document_id: doc.id,
            user_id: userId,
            version: 1,
            chunk_index: from + i,
            content,
            token_count: 0,
            char_start: 0,
            char_end: content.length,
          })),
        )
        .returning('id')
        .execute();
      await db
        .insertInto('kb_embeddings')
        .values(
          chunks.map((c, i) => ({ chunk_id: c.id, model, user_id: userId, embedding: vectorLiteral(hashingEmbedding(contents[i]!)) })),
        )
        .execute();
    }
  }
  return documents;
}

/** `count` chunks of `chunk()` as documents of 100. */
function filesOf(count: number, label: string, chunk: () => string): ProseFile[] {
  return Array.from({ length: Math.ceil(count / 100) }, (_, i) => ({
    name: `${label} ${i}`,
    paragraphs: Array.from({ length: Math.min(100, count - i * 100) }, chunk),
  }));
}

const targets = {
  pglite: {
    vector: 'p95 ≤ 20 ms',
    hybrid: 'p95 ≤ 40 ms',
    keyword: 'p95 ≤ 40 ms',
    load: 'p99 ≤ 100 ms, no error',
    ingest: 'p99 ≤ 200 ms',
    ingestion: '≥ 100 chunks/s into 20k',
  },
  postgres: {
    vector: 'p95 ≤ 10 ms (at 250k)',
    hybrid: 'p95 ≤ 30 ms (at 250k)',
    keyword: 'p95 ≤ 30 ms (at 250k)',
    load: 'p99 ≤ 100 ms, no error',
    ingest: 'p99 ≤ 100 ms',
    ingestion: '≥ 500 chunks/s into 250k',
  },
};

async function benchDriver(
  target: DatabaseTarget,
  dataDir: string,
  prose: ProseFile[],
  options: {
    size: number;
    loadSeconds: number;
    searchesOnly: boolean;
    explain: boolean;
    graph?: { m: number; efConstruction: number } | undefined;
  },
  record: Recorder,
): Promise<void> {
  const driver = target.driver;
  const app = await startBenchApp(target, dataDir, { RATE_LIMIT_KNOWLEDGE_SEARCH: '1000000' });
  const goals = targets[driver];
  try {
    const { runtime, userId } = app;
    const corpus = buildProseCorpus(prose, { size: options.size, queryCount: 200, seed: 42 });
    const synthetic = options.size - corpus.chunks;
    const label = `${options.size.toLocaleString('en')} chunks${synthetic > 0 ? ` (${synthetic.toLocaleString('en')} recombined)` : ''}`;
    console.log(
      `  ${driver}: loading ${corpus.chunks} prose chunks from ${corpus.files.length} files${synthetic > 0 ? ` and ${synthetic} recombined from its sentences` : ''} …`,
    );

    // Bulk-load without the index, then build it: the build time is a figure of its own.
    await dropIndex(app.database, model);
    const t0 = performance.now();
    const documents = await loadFiles(app, userId, corpus.files);
    if (synthetic > 0) await loadFiles(app, userId, filesOf(synthetic, 'recombined', recombinedProse(prose, 7)));
    // Another user's chunks share the index, as on a real installation.
    const other = await runtime.users.create({ email: 'other@example.test' }, { userId: null, ip: null });
    await loadFiles(app, other.user.id, filesOf(1000, 'other', zipfText(9).chunk));
    const loadSeconds = (performance.now() - t0) / 1000;
    const buildSeconds = await buildIndex(app.database, model, localHashingDimensions, {
      maintenanceWorkMem: driver === 'postgres' ? '1GB' : undefined,
      graph: options.graph,
    });
    // As the knowledge base does after its own writes (the embedded database has no autovacuum).
    await sql`analyze kb_documents, kb_chunks, kb_embeddings`.execute(app.database.db);
    record(
      figure(
        { name: `HNSW index build, ${label} (+1k of another user)`, driver },
        `${buildSeconds.toFixed(1)} s (rows loaded in ${loadSeconds.toFixed(1)} s)`,
        { p50: buildSeconds * 1000 },
      ),
    );

    const queries: Query[] = corpus.queries.map((q) => ({ text: q.text, homeDocument: documents.get(q.home)! }));
    await searchRows(runtime, userId, queries, { driver, corpus: label, targets: goals }, record);
    const recall = await indexRecall(runtime, userId, queries.slice(0, 100), { name: model, dimensions: localHashingDimensions });
    record(
      figure({ name: `HNSW recall@10 vs exact scan, ${label}, prose queries`, driver, target: '≥ 0.95' }, recall.toFixed(3), { n: 100 }),
    );
    if (options.explain) for (const query of queries.slice(0, 3)) await explainSearches(runtime, userId, query.text);
    if (options.searchesOnly) return;

    await loadRow(
      app,
      queries,
      { driver, corpus: label, clients: 20, perMinute: 1000, seconds: options.loadSeconds, target: goals.load },
      record,
    );

    const paragraphs = prose.flatMap((file) => file.paragraphs);
    // Twenty documents of about 120k characters (some 60 chunks of 500 tokens each).
    const ingest = Array.from({ length: 20 }, (_, i) => proseText(paragraphs, corpus.chunks + i * 400, 120_000));
    await ingestionRow(app, ingest, { driver, corpus: label, target: goals.ingestion }, record);

    // About 2,000 chunks of 200 tokens.
    await searchDuringIngestRows(
      app,
      proseText(paragraphs, 0, 1_250_000),
      queries,
      { driver, chunkSize: 200, target: goals.ingest },
      record,
    );
  } finally {
    await app.close();
  }
}

const bench: Bench = async ({ record, options }) => {
  const only = options.get('driver');
  const drivers = (['pglite', 'postgres'] as const).filter((d) => only === undefined || only === d);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-bench-kb-'));
  const prose = readProse(path.resolve('node_modules'));
  console.log(`  prose: ${prose.reduce((n, f) => n + f.paragraphs.length, 0)} distinct paragraphs in ${prose.length} files`);
  const loadSeconds = Number(options.get('load-seconds') ?? 60);
  const searchesOnly = options.get('searches-only') === true;
  const explain = options.get('explain') === true;
  // Another graph than the product's, to compare: `--hnsw 16,64` (m, ef_construction).
  const [m, efConstruction] = String(options.get('hnsw') ?? '')
    .split(',')
    .map(Number);
  const graph = m && efConstruction ? { m, efConstruction } : undefined;
  if (graph) console.log(`  HNSW graph: m = ${graph.m}, ef_construction = ${graph.efConstruction}`);
  let cluster: PostgresCluster | undefined;
  try {
    for (const driver of drivers) {
      const size = Number(options.get('size') ?? (driver === 'pglite' ? 20_000 : 50_000));
      if (driver === 'pglite') {
        await benchDriver(
          { driver, dataDir: path.join(dataDir, 'pglite') },
          dataDir,
          prose,
          { size, loadSeconds, searchesOnly, explain, graph },
          record,
        );
      } else {
        cluster ??= await startPostgresCluster();
        const url = await createDatabase(cluster.url, 'agentry_bench_knowledge');
        await benchDriver({ driver, url }, dataDir, prose, { size, loadSeconds, searchesOnly, explain, graph }, record);
      }
    }
    if (options.get('large')) {
      const sets = String(options.get('large-set') ?? 'openai,hashing').split(',') as LargeSet[];
      if (sets.some((set) => set !== 'openai' && set !== 'hashing')) throw new Error('--large-set: openai, hashing or both');
      cluster ??= await startPostgresCluster();
      const server = await sizeSharedBuffers(cluster, String(options.get('shared-buffers') ?? '4GB'));
      for (const set of sets) {
        const url = await createDatabase(cluster.url, `agentry_bench_knowledge_large_${set}`);
        const size = Number(options.get('large-size') ?? 250_000);
        await benchLarge(set, url, dataDir, prose, { size, loadSeconds, explain, server, graph }, record);
      }
    }
  } finally {
    await cluster?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
};

export default bench;
