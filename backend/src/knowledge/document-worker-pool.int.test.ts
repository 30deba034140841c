import { afterEach, describe, expect, it } from 'vitest';
import { pdfBomb } from '../../test/documents.ts';
import { DocumentWorkerPool, queueLimits, type DocumentReaderSettings } from './document-worker-pool.ts';

/*
 * The reader pool on its own (real reader processes, no database): a task that runs out of time or
 * memory ends with its own process and fails alone, time counts from a task's start, one user's
 * tasks run one at a time, and the queue is bounded.
 */

const settings: DocumentReaderSettings = {
  workers: 2,
  timeoutMs: 60_000,
  memoryMb: 1024,
  maxInflatedBytes: 128 * 1024 * 1024,
  maxTextChars: 20 * 1024 * 1024,
};
const note = (n: number) => Buffer.from(`A short note, number ${n}.`);
/** Within the inflate budget, so pdf.js spends seconds on it. */
const slowPdf = (n: number) => pdfBomb(15 * 1024 * 1024 + n);
const seconds = (from: number) => (performance.now() - from) / 1000;

/** A pool whose processes are started (the first task of each pays for loading the parsers). */
async function warmPool(overrides: Partial<DocumentReaderSettings>): Promise<DocumentWorkerPool> {
  const pool = new DocumentWorkerPool({ ...settings, ...overrides });
  await Promise.all([pool.extract('warm-1', note(1), 'a.txt'), pool.extract('warm-2', note(2), 'b.txt')]);
  return pool;
}

describe('document reader pool', () => {
  let pool: DocumentWorkerPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it("fails a task over its time alone, counting each task's time from its own start", async () => {
    pool = await warmPool({ timeoutMs: 1000 });
    const started = performance.now();
    const first = pool.extract('hostile', slowPdf(1), 'slow-1.pdf').then(
      () => 'read',
      (e: Error & { code?: string }) => ({ code: e.code, message: e.message, at: seconds(started) }),
    );
    const second = pool.extract('hostile', slowPdf(2), 'slow-2.pdf').then(
      () => 'read',
      (e: Error & { code?: string }) => ({ code: e.code, message: e.message, at: seconds(started) }),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const other = performance.now();
    const quick = await pool.extract('bystander', note(3), 'note.txt');
    expect(quick.text).toContain('number 3');
    expect(seconds(other)).toBeLessThan(1);
    const [a, b] = await Promise.all([first, second]);
    expect(a).toMatchObject({ code: 'DOCUMENT_TOO_COMPLEX', message: expect.stringMatching(/longer than 1 s/) });
    expect(b).toMatchObject({ code: 'DOCUMENT_TOO_COMPLEX', message: expect.stringMatching(/longer than 1 s/) });
    // The second waited for the first (one task per user) and then had its own full second.
    expect((b as { at: number }).at).toBeGreaterThan(2);
    // The killed processes are replaced for the next task.
    expect((await pool.extract('bystander', note(4), 'note.txt')).text).toContain('number 4');
  });

  it('ends a task whose buffers outgrow the memory limit, alone', async () => {
    pool = await warmPool({ memoryMb: 256, maxInflatedBytes: 4 * 1024 * 1024 * 1024 });
    // Posing as an image, its stream escapes the inflate check; pdf.js then unpacks 600 MB into
    // ArrayBuffers, which a worker thread's heap limit would not count.
    const bomb = pool.extract('hostile', pdfBomb(600 * 1024 * 1024, { posingAsImage: true }), 'bomb.pdf');
    const quick = pool.extract('bystander', note(5), 'note.txt');
    await expect(bomb).rejects.toMatchObject({
      code: 'DOCUMENT_TOO_COMPLEX',
      message: expect.stringMatching(/more than 256 MB of memory/),
    });
    expect((await quick).text).toContain('number 5');
    expect((await pool.extract('hostile', note(6), 'note.txt')).text).toContain('number 6');
  });

  it("never gives a task to a reader being killed for time, even when the killed one's answer was already on its way", async () => {
    pool = new DocumentWorkerPool({ ...settings, workers: 1, timeoutMs: 300 });
    await pool.extract('warm', note(1), 'a.txt');
    const first = pool.extract('late', note(2), 'a.txt').then(
      () => 'read',
      (e: { code?: string }) => e.code,
    );
    const bystander = pool.extract('bystander', note(3), 'b.txt');
    // Let the first be sent, then hold the server's thread past its time: its answer arrives in
    // the same turn of the event loop as its timer, which runs first and kills the reader.
    for (let i = 0; i < 20; i++) await null;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800);
    expect(await first).toMatch(/^(read|DOCUMENT_TOO_COMPLEX)$/);
    expect((await bystander).text).toContain('number 3');
  });

  it("retires a reader a large document left big, so the next user's document is not counted against it", async () => {
    // 20 MiB of text (the upload limit) needs about 100 MB over the reader's own ~120 MB and
    // leaves most of it behind; reused, the next such document passed 230 MB.
    pool = new DocumentWorkerPool({ ...settings, workers: 1, memoryMb: 230 });
    const large = (n: number) => Buffer.alloc(20 * 1024 * 1024, `Words of a long report, part ${n}. `);
    const outcomes = await Promise.all(
      ['a', 'b', 'c', 'd'].map((user, n) =>
        pool!.extract(user, large(n), 'report.txt').then(
          () => 'read',
          (e: Error) => e.message,
        ),
      ),
    );
    expect(outcomes).toEqual(['read', 'read', 'read', 'read']);
  });

  it('bounds the queue: per user (429) and in all (503); background chunking is never refused', async () => {
    pool = new DocumentWorkerPool(settings);
    const tasks = Array.from({ length: queueLimits.perUser + 2 }, (_, i) =>
      pool!.extract('eager', note(10 + i), 'note.txt').then(
        () => 'read',
        (e: { code?: string }) => e.code,
      ),
    );
    const chunked = pool.chunk('eager', 'Chunked in the background.', { chunkSize: 100, overlap: 0 });
    // One runs, four wait, the sixth is refused; the chunking waits its turn.
    expect(await Promise.all(tasks)).toEqual([...Array(queueLimits.perUser + 1).fill('read'), 'DOCUMENT_QUEUE_FULL']);
    expect((await chunked).length).toBe(1);

    const crowd = Array.from({ length: queueLimits.total + 3 }, (_, i) =>
      pool!.extract(`user-${i % 40}`, note(100 + i), 'note.txt').then(
        () => 'read',
        (e: { code?: string }) => e.code,
      ),
    );
    const outcomes = await Promise.all(crowd);
    expect(outcomes.filter((o) => o === 'DOCUMENT_READERS_BUSY').length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o !== 'read' && o !== 'DOCUMENT_READERS_BUSY')).toEqual([]);
  });
});
