import type { Dialog, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, startConsole, type ConsoleHarness } from './console-harness.ts';

interface Document {
  id: string;
  title: string;
  status: string;
}

const deployNotes = `# Deploy handbook

Every merge to main starts the deployment pipeline: it builds the image, runs the migrations on a
staging copy and promotes the build once the smoke tests pass.

When a deployment goes wrong, the rollback step restores the previous image within two minutes. The
on-call engineer confirms the rollback in the incident channel.

Deployments are frozen on Fridays after noon, and during the quarterly audit.
`;

const beeNotes = `# Beekeeping calendar

In spring, inspect each hive every week for queen cells and add a super when the brood box is full.

In late summer, take off the honey supers, extract the honey and treat the colonies against varroa mites.

Before winter, reduce the entrances and leave enough stores for the bees to last until March.
`;

const gardenNotes = `Tomato growing notes

Sow tomato seeds indoors six weeks before the last frost, in small pots of seed compost kept warm.

Harden the seedlings off for a week before planting them out, deep, in a sunny bed rich in compost.

Pinch out side shoots every few days and water at the base, never over the leaves.
`;

const byteLimit = 64 * 1024;
/** Reading and embedding take a few seconds, more for the first document (the reader starts). */
const processing = { timeout: 20_000 };

/** The entry of a document in the page's documents list. */
function documentEntry(page: Page, text: string) {
  return page.getByRole('region', { name: 'Documents' }).getByRole('listitem').filter({ hasText: text });
}

function uploadEntry(page: Page, fileName: string) {
  return page.getByRole('list', { name: 'Uploads' }).getByRole('listitem').filter({ hasText: fileName });
}

/** The status chips' words, read without waiting for them to exist (so it can be polled). */
function statusOf(entry: Locator): Promise<string[]> {
  return entry.locator('.chip').allTextContents();
}

async function search(page: Page, words: string) {
  await page.getByLabel('Search your documents').fill(words);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect.poll(() => page.getByRole('status').filter({ hasText: words }).count()).toBe(1);
  return page.getByRole('list', { name: 'Search results' }).getByRole('listitem');
}

describe('the console: the knowledge page', () => {
  let h: ConsoleHarness;

  /** A document added through the API, once it is searchable. */
  async function addDocument(title: string, content: string): Promise<Document> {
    const created = await h.call<{ document: Document }>('POST', '/v1/knowledge/documents', { title, content });
    expect(created.status).toBe(202);
    const { id } = created.body.document;
    await expect
      .poll(async () => (await h.call<{ document: Document }>('GET', `/v1/knowledge/documents/${id}`)).body.document.status, processing)
      .toBe('completed');
    return created.body.document;
  }

  beforeAll(async () => {
    h = await startConsole({ KB_MAX_UPLOAD_BYTES: String(byteLimit) });
  });
  afterAll(async () => {
    await h?.close();
  });

  it(
    'uploads several files at once, each with its own progress and live status, and says why some were refused',
    { timeout: 60_000 },
    async () => {
      const page = await h.signedInPage({ path: '/knowledge' });
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Knowledge');
      await page.getByLabel('Choose files').setInputFiles([
        { name: 'bees.md', mimeType: 'text/markdown', buffer: Buffer.from(beeNotes) },
        { name: 'garden.txt', mimeType: 'text/plain', buffer: Buffer.from(gardenNotes) },
        {
          name: 'photo.png',
          mimeType: 'image/png',
          buffer: Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex'),
        },
        { name: 'huge.txt', mimeType: 'text/plain', buffer: Buffer.from('word '.repeat(byteLimit)) },
      ]);

      for (const name of ['bees.md', 'garden.txt']) {
        const bar = page.getByRole('progressbar', { name });
        await expect.poll(() => bar.count(), { message: `a progress bar for ${name}` }).toBe(1);
        // Only a live event can turn the upload's "pending" answer into "Completed": the page is not reloaded.
        await expect.poll(() => statusOf(uploadEntry(page, name)), { ...processing, message: `${name} processed` }).toEqual(['Completed']);
        expect(await bar.getAttribute('value')).toBe('1');
      }
      await expect
        .poll(() => uploadEntry(page, 'photo.png').getByRole('alert').allTextContents(), processing)
        .toEqual([expect.stringMatching(/image\/png.*Upload \.txt, \.md/)]);
      await expect
        .poll(() => uploadEntry(page, 'huge.txt').getByRole('alert').allTextContents(), processing)
        .toEqual([expect.stringMatching(/too large/i)]);

      await expect.poll(() => documentEntry(page, 'bees.md').count()).toBe(1);
      await expect.poll(() => documentEntry(page, 'garden.txt').count()).toBe(1);
      const bees = documentEntry(page, 'bees.md');
      expect(await statusOf(bees)).toEqual(['Completed']);
      expect(await bees.textContent()).toMatch(/\d+ passages?/);
      expect(await documentEntry(page, 'photo.png').count()).toBe(0);
      await page.context().close();
    },
  );

  it('finds a document from other word forms and a typo, marks the words, and links to the document', async () => {
    const handbook = await addDocument('Deploy handbook', deployNotes);
    await addDocument(
      'Sourdough',
      'Feed the sourdough starter with flour and water, then let the dough rise overnight before baking the loaf.',
    );
    const page = await h.signedInPage({ path: '/knowledge' });

    const results = await search(page, 'deploying piplines');
    const first = results.first();
    expect(await first.getByRole('link').first().textContent()).toBe('Deploy handbook');
    expect(await first.textContent()).toMatch(/Similarity \d{1,3}%/);
    const marked = await first.locator('mark').allTextContents();
    expect(marked.map((word) => word.toLowerCase())).toContain('deployment');
    expect(
      marked.every((word) => /^deploy/i.test(word)),
      `only forms of the query's words are marked: ${marked.join(', ')}`,
    ).toBe(true);

    await results.filter({ hasText: 'Deploy handbook' }).getByRole('link', { name: 'Deploy handbook' }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('doc')).toBe(handbook.id);
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe(`document-${handbook.id}`);
    expect(await documentEntry(page, 'Deploy handbook').getAttribute('aria-current')).toBe('true');
    await page.context().close();
  });

  it('shows what documents supply as text and runs none of it', { timeout: 60_000 }, async () => {
    const page = await h.signedInPage({ path: '/knowledge' });
    const dialogs: string[] = [];
    page.on('dialog', (dialog: Dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const title = '<script>window.__xss=3</script> Field notes';
    const image = '<img src=x onerror="window.__xss=1">';
    const link = '[click](javascript:window.__xss=2)';
    // Added elsewhere while the page is open: the page learns of it from the live event.
    await addDocument(title, `Lighthouse field notes.\n\n${image} and ${link} next to the lantern.`);
    // Browsers escape double quotes in a multipart file name, so this one goes without.
    const fileName = '<img src=x onerror=window.__xss=4>.md';
    await page
      .getByLabel('Choose files')
      .setInputFiles([{ name: fileName, mimeType: 'text/markdown', buffer: Buffer.from(`Beacon notes\n\n${image}\n\n${link}\n`) }]);

    await expect.poll(() => documentEntry(page, 'Field notes').getByRole('heading').allTextContents(), processing).toEqual([title]);
    await expect.poll(() => statusOf(documentEntry(page, fileName)), processing).toEqual(['Completed']);
    const results = await search(page, 'lantern onerror click');
    const passage = await results.filter({ hasText: 'Field notes' }).locator('.knowledge-passage').textContent();
    expect(passage).toContain(image);
    expect(passage).toContain(link);

    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script:not([src])').count()).toBe(0);
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
    expect(dialogs).toEqual([]);
    await page.context().close();
  });

  it('deletes a document after asking, and search no longer finds it', async () => {
    await addDocument('Canal lock log', 'The canal lock gates were greased and the sluice paddles replaced before the boating season.');
    const page = await h.signedInPage({ path: '/knowledge' });
    expect(await (await search(page, 'sluice paddles')).first().textContent()).toContain('Canal lock log');

    const entry = documentEntry(page, 'Canal lock log');
    const asked = new Promise<string>((resolve) =>
      page.once('dialog', (dialog: Dialog) => {
        resolve(dialog.message());
        void dialog.accept();
      }),
    );
    await entry.getByRole('button', { name: 'Delete Canal lock log' }).click();
    expect(await asked).toMatch(/Delete “Canal lock log”/);
    await expect.poll(() => entry.count()).toBe(0);

    const results = await search(page, 'sluice paddles gates');
    expect(await results.filter({ hasText: 'Canal lock log' }).count()).toBe(0);
    await page.reload();
    await expect.poll(() => page.getByRole('region', { name: 'Documents' }).getByRole('listitem').count()).toBeGreaterThan(0);
    expect(await documentEntry(page, 'Canal lock log').count()).toBe(0);
    await page.context().close();
  });

  it('passes axe with documents and results, on a desktop and at 375 px in the dark', { timeout: 60_000 }, async () => {
    await addDocument('Greenhouse diary', 'Seedlings in the greenhouse need compost, daily water and a vent opened on warm mornings.');
    for (const options of [{}, { width: 375, dark: true }]) {
      const page = await h.signedInPage({ path: '/knowledge', ...options });
      await expect.poll(() => page.getByRole('region', { name: 'Documents' }).getByRole('listitem').count()).toBeGreaterThan(0);
      await search(page, 'greenhouse seedlings');
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width, 'no sideways scrolling').toBeLessThanOrEqual(options.width ?? 1280);
      await expectAccessible(page, `the knowledge page ${options.width ? 'at 375 px, dark' : 'on a desktop'}`);
      await page.context().close();
    }
  });
});
