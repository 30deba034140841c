import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../errors.ts';
import { createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import type { Chunk } from './chunker.ts';
import { DocumentProcessor } from './document-processor.ts';
import type { DocumentWorkerPool } from './document-worker-pool.ts';
import { PlannerStatistics } from './planner-statistics.ts';

describe.each(drivers)('a document processor that lost its lease on %s', (driver) => {
  let t: TestApp;
  const errors: Error[] = [];

  beforeAll(async () => {
    t = await createTestApp(driver);
  });
  afterAll(() => t.close());

  const pendingDocument = async (title: string) =>
    t.runtime.database.db
      .insertInto('kb_documents')
      .values({
        user_id: t.userId,
        title,
        content_type: 'text/plain',
        size_bytes: 0,
        checksum: `${title}-${Math.random()}`,
        storage_key: 'none',
        text: 'Lanterns line the harbour wall.',
        chunk_size: 500,
        chunk_overlap: 50,
        status: 'pending',
        updated_at: new Date(),
      })
      .returning(['id', 'version'])
      .executeTakeFirstOrThrow();

  /** What another instance does once this one's lease ran out: claims the document and writes a chunk of it. */
  const takeOver = async (document: { id: string; version: number }) => {
    await t.runtime.database.db
      .updateTable('kb_documents')
      .set({ lease_owner: 'successor', lease_expires_at: new Date(Date.now() + 60_000) })
      .where('id', '=', document.id)
      .execute();
    await t.runtime.database.db
      .insertInto('kb_chunks')
      .values({
        document_id: document.id,
        user_id: t.userId,
        version: document.version,
        chunk_index: 0,
        content: "the successor's chunk",
        token_count: 3,
        char_start: 0,
        char_end: 3,
      })
      .execute();
  };

  /** Processes `id` with a reader that runs `reading` (while this instance holds the lease) before it answers. */
  const processWith = async (id: string, reading: () => Promise<Chunk[]>) => {
    const processor = new DocumentProcessor({
      database: t.runtime.database,
      bus: t.runtime.events.bus,
      readers: { chunk: reading } as unknown as DocumentWorkerPool,
      concurrency: 1,
      models: t.runtime.knowledge.models,
      statistics: new PlannerStatistics(t.runtime.database),
      embedder: (name) => t.runtime.knowledge.embedder(name),
      ensureActiveModel: async () => undefined,
      onError: (error) => errors.push(error),
    });
    processor.enqueue(id, t.userId);
    await Promise.allSettled(processor.inFlight());
    processor.stop();
  };

  const state = async (id: string) => ({
    document: await t.runtime.database.db
      .selectFrom('kb_documents')
      .select(['status', 'lease_owner', 'error_code'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow(),
    chunks: (await t.runtime.database.db.selectFrom('kb_chunks').select('content').where('document_id', '=', id).execute()).map(
      (c) => c.content,
    ),
  });

  const taken = { document: { status: 'processing', lease_owner: 'successor', error_code: null }, chunks: ["the successor's chunk"] };

  it("leaves the successor's chunks and writes none of its own", async () => {
    const document = await pendingDocument('Lanterns');
    await processWith(document.id, async () => {
      await takeOver(document);
      return [{ index: 0, content: 'Lanterns line the harbour wall.', tokenCount: 5, start: 0, end: 31 }];
    });
    expect(await state(document.id)).toEqual(taken);
  });

  it('does not mark the document failed when its run fails after the lease was lost', async () => {
    const document = await pendingDocument('Harbour');
    await processWith(document.id, async () => {
      await takeOver(document);
      throw new AppError('DOCUMENT_UNREADABLE');
    });
    expect(await state(document.id)).toEqual(taken);
  });
});
