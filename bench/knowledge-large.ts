import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { sql } from 'kysely';
import { startFakeOpenAi } from '../backend/test/fake-openai.ts';
import { startBenchApp } from './bench-app.ts';
import { buildIndex, dropIndex, figure, loadRow, searchRows, type Recorder } from './knowledge-rows.ts';
import { clusteredVectors, zipfText } from './synthetic-text.ts';

/*
 * `npm run bench -- knowledge --large`: issue 20's PostgreSQL column, 250k chunks at 1536
 * dimensions, for latency only (recall is measured on real prose). Chunk texts are synthetic Zipf
 * text; vectors come from `clusteredVectors` (parameters in the build row's note); both are loaded
 * with COPY through psql. Queries are embedded by a local server that speaks OpenAI's embeddings
 * API (the hashing embedding at 1536 dimensions), so the product's own search answers them.
 */

const model = 'openai:text-embedding-3-small';
const dimensions = 1536;

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

export async function benchLarge(
  url: string,
  dataDir: string,
  options: { size: number; loadSeconds: number },
  record: Recorder,
): Promise<void> {
  const driver = 'postgres';
  const fake = await startFakeOpenAi(dimensions);
  const app = await startBenchApp({ driver, url }, dataDir, {
    EMBEDDING_MODEL: model,
    OPENAI_BASE_URL: fake.url,
    OPENAI_API_KEY: 'test-key',
    RATE_LIMIT_KNOWLEDGE_SEARCH: '1000000',
  });
  try {
    const { runtime, userId } = app;
    const label = `${options.size.toLocaleString('en')} chunks × ${dimensions} (synthetic)`;
    const text = zipfText(11);
    const vectors = clusteredVectors({ dimensions, clusters: 1000, spread: 0.02, seed: 13 });
    console.log(`  postgres --large: loading ${label} …`);
    await dropIndex(app.database, model);
    const t0 = performance.now();
    const documentIds: string[] = [];
    for (let i = 0; i < options.size / 100; i++) {
      const { id } = await app.database.db
        .insertInto('kb_documents')
        .values({
          user_id: userId,
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
          embedding_model: model,
          updated_at: new Date(),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      documentIds.push(id);
    }
    const chunkIds = Array.from({ length: documentIds.length * 100 }, () => randomUUID());
    await copy(
      url,
      'kb_chunks',
      'id, document_id, user_id, version, chunk_index, content, token_count, char_start, char_end',
      (function* () {
        for (const [i, id] of chunkIds.entries()) {
          const content = text.chunk();
          yield [id, documentIds[Math.floor(i / 100)], userId, 1, i % 100, content, 0, 0, content.length].join('\t');
        }
      })(),
    );
    await copy(
      url,
      'kb_embeddings',
      'chunk_id, model, user_id, embedding',
      (function* () {
        for (const id of chunkIds) yield [id, model, userId, `[${Array.from(vectors.next(), (x) => x.toFixed(6)).join(',')}]`].join('\t');
      })(),
    );
    const loadSeconds = (performance.now() - t0) / 1000;
    const buildSeconds = await buildIndex(app.database, model, dimensions, { maintenanceWorkMem: '3GB' });
    await sql`analyze kb_documents, kb_chunks, kb_embeddings`.execute(app.database.db);
    record(
      figure(
        { name: `HNSW index build, ${label}`, driver },
        `${buildSeconds.toFixed(0)} s with maintenance_work_mem 3GB (COPY ${loadSeconds.toFixed(0)} s); vectors: ${vectors.describe}`,
        { p50: buildSeconds * 1000 },
      ),
    );
    const queries = Array.from({ length: 200 }, () => ({ text: text.sentence().split(' ').slice(0, 4).join(' ') }));
    await searchRows(
      runtime,
      userId,
      queries,
      { driver, corpus: label, targets: { vector: 'p95 ≤ 10 ms', hybrid: 'p95 ≤ 30 ms', keyword: 'p95 ≤ 30 ms' } },
      record,
    );
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
