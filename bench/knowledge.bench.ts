import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sql } from 'kysely';
import { loadConfig } from '../backend/src/config.ts';
import { MigrationRunner, PostgresDatabase } from '../backend/src/database/index.ts';
import { EmbeddingModels, vectorLiteral } from '../backend/src/knowledge/embedding-models.ts';
import type { SearchMode } from '../backend/src/knowledge/index.ts';
import { hashingEmbedding, localHashingDimensions } from '../backend/src/providers/local-hashing-embedder.ts';
import { createRuntime, type Runtime } from '../backend/src/runtime.ts';
import { buildApp } from '../backend/src/server/index.ts';
import { measure, percentile, type Bench } from './harness.ts';

/*
 * The knowledge base on the embedded database with local:hashing: search latency and the HNSW
 * index's recall@10 against an exact scan at 1k, 10k and 20k chunks, the index build time,
 * ingestion throughput, and how other requests fare while a 2,000-chunk document is ingested.
 *
 * The corpus is synthetic text from a Zipf-distributed vocabulary (seeded, so runs compare);
 * queries are four words of a random chunk.
 */

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = random(42);
const syllables = [
  'ka',
  'lo',
  'mi',
  'ren',
  'tor',
  'sa',
  'vel',
  'di',
  'nor',
  'pe',
  'qua',
  'zi',
  'bru',
  'an',
  'est',
  'ol',
  'im',
  'ter',
  'gra',
  'fu',
];
const vocabulary = Array.from({ length: 4000 }, () =>
  Array.from({ length: 2 + Math.floor(rand() * 3) }, () => syllables[Math.floor(rand() * syllables.length)]).join(''),
);
const zipf = (() => {
  const weights = vocabulary.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  let sum = 0;
  const cumulative = weights.map((w) => (sum += w / total));
  return () => {
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
})();
const sentence = () => `${Array.from({ length: 8 + Math.floor(rand() * 10) }, zipf).join(' ')}.`;
const chunkText = () => Array.from({ length: 6 }, sentence).join(' ');

/** Adds `count` synthetic chunks (with vectors) for `userId`, 100 to a document, in bulk. */
async function addSyntheticChunks(runtime: Runtime, userId: string, count: number, texts: string[]): Promise<void> {
  const db = runtime.database.db;
  for (let done = 0; done < count;) {
    const n = Math.min(100, count - done);
    const doc = await db
      .insertInto('kb_documents')
      .values({
        user_id: userId,
        title: `synthetic ${texts.length}`,
        content_type: 'text/plain',
        size_bytes: 0,
        checksum: `synthetic-${texts.length}-${rand()}`,
        storage_key: 'none',
        text: '',
        chunk_size: 500,
        chunk_overlap: 50,
        status: 'completed',
        active_version: 1,
        chunk_count: n,
        embedding_model: 'local:hashing',
        updated_at: new Date(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const contents = Array.from({ length: n }, chunkText);
    const chunks = await db
      .insertInto('kb_chunks')
      .values(
        contents.map((content, i) => ({
          document_id: doc.id,
          user_id: userId,
          version: 1,
          chunk_index: i,
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
        chunks.map((c, i) => ({
          chunk_id: c.id,
          model: 'local:hashing',
          user_id: userId,
          embedding: vectorLiteral(hashingEmbedding(contents[i]!)),
        })),
      )
      .execute();
    texts.push(...contents);
    done += n;
  }
}

function queryFrom(texts: string[]): string {
  const words = texts[Math.floor(rand() * texts.length)]!.replace(/\./g, '').split(' ');
  return Array.from({ length: 4 }, () => words[Math.floor(rand() * words.length)]).join(' ');
}

/** recall@10 of the HNSW search against an exact (sequential) scan, over `queries`. */
async function indexRecall(runtime: Runtime, userId: string, queries: string[]): Promise<number> {
  let found = 0;
  for (const query of queries) {
    const q = sql`${vectorLiteral(hashingEmbedding(query))}::vector(${sql.lit(localHashingDimensions)})`;
    const exact = await runtime.database.transaction(async (tx) => {
      await sql`set local enable_indexscan = off`.execute(tx);
      await sql`set local enable_bitmapscan = off`.execute(tx);
      const { rows } = await sql<{
        chunk_id: string;
      }>`select chunk_id from kb_embeddings where model = 'local:hashing' and user_id = ${userId}
        order by embedding::vector(${sql.lit(localHashingDimensions)}) <=> ${q} limit 10`.execute(tx);
      return rows.map((r) => r.chunk_id);
    });
    const { results } = await runtime.knowledgeSearch.search(userId, { query, limit: 10, threshold: 0, mode: 'vector' });
    const approximate = new Set(results.map((r) => r.chunkId));
    found += exact.filter((id) => approximate.has(id)).length / Math.max(1, exact.length);
  }
  return found / queries.length;
}

const bench: Bench = async ({ record }) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-bench-kb-'));
  const driver = 'pglite';
  const database = await PostgresDatabase.open(
    { driver, dataDir: path.join(dataDir, 'pglite') },
    { pool: { max: 1, timeoutMs: 30_000, statementTimeoutMs: 0 }, purpose: 'bench' },
  );
  await new MigrationRunner(database.db).up();
  const config = loadConfig({
    AGENTRY_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_DEFAULT: '1000000',
    RATE_LIMIT_KNOWLEDGE_SEARCH: '1000000',
  });
  const runtime = await createRuntime(config, database, { warn: () => undefined, info: () => undefined });
  const app = await buildApp(runtime, { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const { user, token } = await runtime.users.create({ email: 'bench@example.test' }, { userId: null, ip: null });
    // Another user's chunks share the index, as on a real installation.
    const other = await runtime.users.create({ email: 'other@example.test' }, { userId: null, ip: null });
    const texts: string[] = [];
    const index = sql.id(EmbeddingModels.indexName('local:hashing'));

    for (const size of [1000, 10_000, 20_000]) {
      // Bulk-load without the index, then build it: the build time is a figure of its own.
      await sql`drop index if exists ${index}`.execute(database.db);
      await addSyntheticChunks(runtime, user.id, size - texts.length, texts);
      if (size === 1000) await addSyntheticChunks(runtime, other.user.id, 1000, []);
      const t0 = performance.now();
      await EmbeddingModels.createIndex(database.db, 'local:hashing', localHashingDimensions);
      const buildSeconds = (performance.now() - t0) / 1000;
      // As the knowledge base does after its own writes (the embedded database has no autovacuum).
      await sql`analyze kb_documents, kb_chunks, kb_embeddings`.execute(database.db);
      console.log(`  ${size} chunks loaded, index built in ${buildSeconds.toFixed(1)} s`);
      const corpus = `${size.toLocaleString('en')} chunks`;
      record({
        name: `HNSW index build, ${corpus} (+1k of another user)`,
        driver,
        n: 1,
        p50: buildSeconds * 1000,
        p95: Number.NaN,
        p99: Number.NaN,
        throughput: 0,
        note: `${buildSeconds.toFixed(1)} s`,
      });
      const queries = Array.from({ length: 200 }, () => queryFrom(texts));
      for (const mode of ['vector', 'keyword', 'hybrid'] as SearchMode[]) {
        let i = 0;
        const target = size === 20_000 ? (mode === 'vector' ? 'p95 ≤ 20 ms' : mode === 'hybrid' ? 'p95 ≤ 40 ms' : undefined) : undefined;
        record(
          await measure(
            { name: `search ${mode}, ${corpus}, limit 10`, driver, ...(target ? { target } : {}) },
            () => runtime.knowledgeSearch.search(user.id, { query: queries[i++ % queries.length]!, limit: 10, threshold: 0, mode }),
            { n: 200, warmup: 20 },
          ),
        );
      }
      const recall = await indexRecall(runtime, user.id, queries.slice(0, 100));
      record({
        name: `HNSW recall@10 vs exact scan, ${corpus}`,
        driver,
        n: 100,
        p50: Number.NaN,
        p95: Number.NaN,
        p99: Number.NaN,
        throughput: 0,
        ...(size === 20_000 ? { target: '≥ 0.95' } : {}),
        note: recall.toFixed(3),
      });
    }

    console.log('  searches measured; ingesting …');
    // Ingestion through the whole pipeline (parse, chunk, embed, store) into the 20k index.
    {
      const documents = Array.from({ length: 20 }, () => Array.from({ length: 60 }, () => `${chunkText()}\n\n`).join(''));
      const t0 = performance.now();
      for (const [i, text] of documents.entries())
        await runtime.knowledge.create(user.id, { bytes: Buffer.from(text), title: `ingest ${i}` });
      await runtime.knowledge.idle();
      const seconds = (performance.now() - t0) / 1000;
      const { chunks } = await database.db
        .selectFrom('kb_documents')
        .select((eb) => eb.fn.sum<string>('chunk_count').as('chunks'))
        .where('title', 'like', 'ingest %')
        .executeTakeFirstOrThrow();
      record({
        name: `ingestion, ${documents.length} documents`,
        driver,
        n: Number(chunks),
        p50: Number.NaN,
        p95: Number.NaN,
        p99: Number.NaN,
        throughput: Number(chunks) / seconds,
        target: '≥ 100 chunks/s',
        note: `${chunks} chunks in ${seconds.toFixed(1)} s`,
      });
    }

    // Other requests while a 2,000-chunk document is ingested.
    {
      const big = Array.from({ length: 2000 }, () => Array.from({ length: 8 }, sentence).join(' ')).join('\n\n');
      const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const histogram = monitorEventLoopDelay({ resolution: 1 });
      histogram.enable();
      const { document } = await runtime.knowledge.create(user.id, { bytes: Buffer.from(big), title: 'big', chunkSize: 500, overlap: 50 });
      const ingesting = runtime.knowledge.idle();
      let done = false;
      void ingesting.then(() => (done = true));
      const searches: number[] = [];
      const others: number[] = [];
      while (!done) {
        let t0 = performance.now();
        const search = await fetch(`${base}/v1/knowledge/search`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ query: queryFrom(texts), limit: 10 }),
        });
        await search.arrayBuffer();
        searches.push(performance.now() - t0);
        t0 = performance.now();
        const list = await fetch(`${base}/v1/knowledge/documents?limit=20`, { headers: { authorization: headers.authorization } });
        await list.arrayBuffer();
        others.push(performance.now() - t0);
      }
      histogram.disable();
      const chunks = (await runtime.knowledge.get(user.id, document.id)).chunkCount;
      for (const [name, latencies] of [
        ['hybrid search over HTTP', searches],
        ['GET /v1/knowledge/documents', others],
      ] as const) {
        latencies.sort((a, b) => a - b);
        record({
          name: `${name} during a ${chunks}-chunk ingest`,
          driver,
          n: latencies.length,
          p50: percentile(latencies, 50),
          p95: percentile(latencies, 95),
          p99: percentile(latencies, 99),
          throughput: 0,
          target: 'p99 ≤ 500 ms',
        });
      }
      record({
        name: `event-loop delay during a ${chunks}-chunk ingest`,
        driver,
        n: 1,
        p50: histogram.percentile(50) / 1e6,
        p95: histogram.percentile(95) / 1e6,
        p99: histogram.percentile(99) / 1e6,
        throughput: 0,
        target: 'p99 ≤ 50 ms',
        note: `max ${(histogram.max / 1e6).toFixed(0)} ms`,
      });
    }
  } finally {
    await app.close();
    await runtime.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
};

export default bench;
