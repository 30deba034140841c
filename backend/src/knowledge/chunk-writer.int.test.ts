import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';
import { ChunkWriter, type ChunkBatch, type LeasedDocument } from './chunk-writer.ts';

const paragraphs = (topic: string, count: number) =>
  Array.from({ length: count }, (_, i) => `Note ${i} on ${topic}: entry ${i * 13} of the ${topic} ledger, kept apart from the rest.`).join(
    '\n\n',
  );

describe.each(drivers)('storing chunks on %s', (driver) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(driver);
  });
  afterAll(async () => {
    await t.close();
  });

  /** The transaction that wrote each chunk of `documentIds`: rows written by one statement share it. */
  const writers = async (documentIds: string[]) => {
    const { rows } = await sql<{ tx: string; document_id: string }>`
      select xmin::text as tx, document_id from kb_chunks where document_id in (${sql.join(documentIds)})`.execute(t.runtime.database.db);
    const byTx = new Map<string, Set<string>>();
    for (const row of rows) byTx.set(row.tx, (byTx.get(row.tx) ?? new Set()).add(row.document_id));
    return byTx;
  };

  /** A document as processing holds it: claimed under `owner`'s lease. */
  const leased = async (owner: string, title: string, userId = t.userId): Promise<LeasedDocument> => {
    const row = await t.runtime.database.db
      .insertInto('kb_documents')
      .values({
        user_id: userId,
        title,
        content_type: 'text/plain',
        size_bytes: 0,
        checksum: `${title}-${Math.random()}`,
        storage_key: 'none',
        text: '',
        chunk_size: 500,
        chunk_overlap: 50,
        status: 'processing',
        lease_owner: owner,
        lease_expires_at: new Date(Date.now() + 60_000),
        updated_at: new Date(),
      })
      .returning(['id', 'version'])
      .executeTakeFirstOrThrow();
    return { id: row.id, userId, version: row.version };
  };

  const batchOf = async (document: LeasedDocument, count: number): Promise<ChunkBatch> => {
    const models = await t.runtime.knowledge.models.current();
    // A chunk boundary may fall inside a surrogate pair (an emoji split across tokens).
    const contents = Array.from({ length: count }, (_, i) => `chunk ${i} of ${document.id} \ud83d`);
    const vectors = await Promise.all(models.map(async (m) => (await t.runtime.knowledge.embedder(m.model)).embed(contents)));
    const chunks = contents.map((content, index) => ({ index, content, tokenCount: 5, start: 0, end: content.length }));
    return { document, chunks, models, vectors };
  };

  it("completes two users' documents uploaded together, each searchable once completed", async () => {
    const other = await t.runtime.users.create({ email: 'shared-statements@example.test' }, { userId: null, ip: null });
    const [first, second] = await Promise.all([
      t.runtime.knowledge.create(t.userId, { bytes: Buffer.from(paragraphs('lighthouse', 200)), chunkSize: 50, overlap: 0 }),
      t.runtime.knowledge.create(other.user.id, { bytes: Buffer.from(paragraphs('orchard', 200)), chunkSize: 50, overlap: 0 }),
    ]);
    await t.runtime.knowledge.idle();
    for (const [userId, id] of [
      [t.userId, first.document.id],
      [other.user.id, second.document.id],
    ] as const) {
      const document = await t.runtime.knowledge.get(userId, id);
      expect(document.status).toBe('completed');
      const stored = await t.runtime.database.db
        .selectFrom('kb_chunks')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('document_id', '=', id)
        .executeTakeFirstOrThrow();
      expect(Number(stored.n)).toBe(document.chunkCount);
    }
    const found = await t.runtime.knowledgeSearch.search(other.user.id, {
      query: 'orchard ledger',
      limit: 3,
      threshold: 0,
      mode: 'hybrid',
    });
    expect(found.results.map((r) => r.documentId)).toEqual([second.document.id, second.document.id, second.document.id]);
  });

  it("writes two users' documents queued together in shared statements", async () => {
    const owner = 'writer-shared';
    const other = await t.runtime.users.create({ email: 'writer-shared@example.test' }, { userId: null, ip: null });
    const writer = new ChunkWriter({ database: t.runtime.database, leaseOwner: owner, leaseMs: 60_000, targetMs: 60_000 });
    const mine = await leased(owner, 'mine');
    const theirs = await leased(owner, 'theirs', other.user.id);
    const [filler, first, second] = await Promise.all([batchOf(await leased(owner, 'filler'), 1), batchOf(mine, 3), batchOf(theirs, 3)]);
    // Queued while the filler's statement runs, so the two share the next one.
    const written = writer.write(filler);
    expect(await Promise.all([writer.write(first), writer.write(second)])).toEqual([true, true]);
    expect(await written).toBe(true);
    const shared = [...(await writers([mine.id, theirs.id])).values()].filter((documents) => documents.size === 2);
    expect(shared.length).toBeGreaterThan(0);
  });

  it('sizes each statement by its time budget and its row cap', async () => {
    const owner = 'writer-budget';
    const writer = new ChunkWriter({ database: t.runtime.database, leaseOwner: owner, leaseMs: 60_000, targetMs: 0.001 });
    const document = await leased(owner, 'budget');
    expect(await writer.write(await batchOf(document, 12))).toBe(true);
    const byTx = await writers([document.id]);
    expect(byTx.size).toBe(12);

    const roomy = new ChunkWriter({ database: t.runtime.database, leaseOwner: owner, leaseMs: 60_000, targetMs: 60_000, maxRows: 5 });
    const next = await leased(owner, 'roomy');
    expect(await roomy.write(await batchOf(next, 12))).toBe(true);
    const statements = await writers([next.id]);
    const { rows } = await sql<{ n: string }>`
      select count(*) as n from kb_chunks where document_id = ${next.id} group by xmin::text`.execute(t.runtime.database.db);
    expect(Math.max(...rows.map((r) => Number(r.n)))).toBe(5);
    expect(statements.size).toBeLessThanOrEqual(4);
  });

  it('stores no rows for a document whose lease was lost, and still stores the others written with it', async () => {
    const owner = 'writer-lease';
    const writer = new ChunkWriter({ database: t.runtime.database, leaseOwner: owner, leaseMs: 60_000 });
    const kept = await leased(owner, 'kept');
    const lost = await leased(owner, 'lost');
    await t.runtime.database.db.updateTable('kb_documents').set({ lease_owner: 'someone-else' }).where('id', '=', lost.id).execute();
    const [keptStored, lostStored] = await Promise.all([writer.write(await batchOf(kept, 4)), writer.write(await batchOf(lost, 4))]);
    expect([keptStored, lostStored]).toEqual([true, false]);
    expect([...(await writers([kept.id, lost.id])).values()].flatMap((documents) => [...documents])).toEqual(
      expect.arrayContaining([kept.id]),
    );
    const lostRows = await t.runtime.database.db.selectFrom('kb_chunks').select('id').where('document_id', '=', lost.id).execute();
    expect(lostRows).toHaveLength(0);
    const embedded = await t.runtime.database.db
      .selectFrom('kb_embeddings')
      .innerJoin('kb_chunks', 'kb_chunks.id', 'kb_embeddings.chunk_id')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('kb_chunks.document_id', '=', kept.id)
      .executeTakeFirstOrThrow();
    expect(Number(embedded.n)).toBe(4);
  });

  it('writes nothing more once stopped: the statement in progress ends, the rest resolves false', async () => {
    const owner = 'writer-stopped';
    // One chunk a statement, so most of the batch is still waiting when the writer stops.
    const writer = new ChunkWriter({ database: t.runtime.database, leaseOwner: owner, leaseMs: 60_000, maxRows: 1 });
    const document = await leased(owner, 'stopped');
    const storing = writer.write(await batchOf(document, 20));
    writer.stop();
    expect(await storing).toBe(false);
    const later = await leased(owner, 'after-stop');
    expect(await writer.write(await batchOf(later, 2))).toBe(false);
    const rows = await t.runtime.database.db
      .selectFrom('kb_chunks')
      .select('document_id')
      .where('document_id', 'in', [document.id, later.id])
      .execute();
    expect(rows.length).toBeLessThanOrEqual(1);
  });

  it("fails only the document whose rows broke a statement it shared, and stores the other user's", async () => {
    const owner = 'writer-shared-failure';
    const writer = new ChunkWriter({ database: t.runtime.database, leaseOwner: owner, leaseMs: 60_000, targetMs: 60_000 });
    const good = await leased(owner, 'good');
    const bad = await leased(owner, 'bad');
    const [filler, healthy, broken] = await Promise.all([batchOf(await leased(owner, 'filler'), 1), batchOf(good, 1), batchOf(bad, 1)]);
    broken.vectors[0]![0]![0] = Number.NaN; // what a misbehaving embedding server may send
    // Queued while the filler's statement runs, so the two share the next one.
    const first = writer.write(filler);
    const [goodStored, badStored] = await Promise.allSettled([writer.write(healthy), writer.write(broken)]);
    expect(await first).toBe(true);
    expect(goodStored).toEqual({ status: 'fulfilled', value: true });
    expect(badStored.status).toBe('rejected');
    const rows = await t.runtime.database.db
      .selectFrom('kb_chunks')
      .select(['document_id'])
      .where('document_id', 'in', [good.id, bad.id])
      .execute();
    expect(rows.map((r) => r.document_id)).toEqual([good.id]);
  });
});
