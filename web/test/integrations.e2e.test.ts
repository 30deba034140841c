import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, startConsole, type ConsoleHarness } from './console-harness.ts';
import { notesKey } from './console-server.ts';

/** The Mail card, found as a user finds it: the list item named after its heading. */
const mailCard = (page: Page): Locator => page.getByRole('list', { name: 'Integrations' }).getByRole('listitem', { name: 'Mail' });
/** What the card's status chip says. */
const statusOf = (page: Page) => mailCard(page).locator('[data-status]').textContent();

/** Clicks Connect Mail and lets the browser go through the provider (it consents at once) and back. */
async function connectMail(page: Page): Promise<void> {
  // Away to the provider first: the page is already at /integrations, so waiting for it alone could end before the round trip starts.
  const away = page.waitForURL((url) => url.pathname !== '/integrations' || url.search !== '');
  await mailCard(page).getByRole('button', { name: 'Connect Mail' }).click();
  await away;
  await page.waitForURL((url) => url.pathname === '/integrations' && url.search === '');
}

/**
 * The integrations page in a real browser against the real server: connecting through the OAuth
 * redirect, a disconnect in one tab seen live in another, the usage of a tool call, and axe. The
 * journeys run in order on one server: each starts where the one before left Mail.
 */
describe('the console: integrations', { timeout: 60_000 }, () => {
  let h: ConsoleHarness;
  let page: Page;
  beforeAll(async () => {
    // Several tabs open this page within a minute here, each discovering tools once on load.
    h = await startConsole({ RATE_LIMIT_INTEGRATION_DISCOVERY: '60' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('connects Mail through the OAuth redirect, says so, and lists its tools', async () => {
    page = await h.signedInPage({ path: '/integrations' });
    await expect.poll(() => statusOf(page)).toBe('not connected');
    await connectMail(page);
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'is connected' }).textContent()).toBe('Mail is connected.');
    await expect.poll(() => statusOf(page)).toBe('connected');
    const tools = mailCard(page).getByText(/^\d+ tools?$/);
    await tools.click();
    await expect.poll(() => mailCard(page).locator('li code').allTextContents()).toContain('mail__list_unread');
    // A hand-made link does not make the page claim a connection.
    await page.goto('/integrations?connected=calendar');
    await page.waitForURL((url) => url.search === '');
    await expect.poll(() => statusOf(page)).toBe('connected');
    expect(await page.getByText('is connected').count()).toBe(0);
  });

  it('shows a disconnect made in another tab without a reload, and the reconnection too', async () => {
    const other = await page.context().newPage();
    await other.goto('/integrations');
    await expect.poll(() => other.locator('.live').textContent()).toBe('Live');
    await expect.poll(() => statusOf(other)).toBe('connected');

    page.once('dialog', (dialog) => void dialog.accept());
    await mailCard(page).getByRole('button', { name: 'Disconnect Mail' }).click();
    await expect.poll(() => statusOf(other)).toBe('not connected');
    await expect.poll(() => statusOf(page)).toBe('not connected');

    await connectMail(other);
    await expect.poll(() => statusOf(page)).toBe('connected');
    await expect
      .poll(() =>
        mailCard(page)
          .getByText(/^\d+ tools?$/)
          .textContent(),
      )
      .toBe('3 tools');
    await other.close();
  });

  it('counts a tool call in the usage chart and the table by tool, as it happens', async () => {
    await expect
      .poll(() => page.getByRole('region', { name: 'Usage', exact: true }).textContent())
      .toContain('No tool calls in the last 7 days');
    const started = await h.call<{ session: { conversationId: string } }>('POST', '/v1/sessions', {});
    expect(started.status).toBe(201);
    const sent = await h.call<{ turn: { status: string } }>(
      'POST',
      `/v1/conversations/${started.body.session.conversationId}/messages?wait=true`,
      { content: '/tool mail__list_unread {}' },
    );
    expect(sent.body.turn.status).toBe('completed');

    const usage = page.getByRole('region', { name: 'Usage', exact: true });
    await expect.poll(() => usage.locator('.usage-total').textContent()).toMatch(/^1 call, 0 errors in the last 7 days/);
    await usage.getByRole('img', { name: /^Calls and errors per day 1 call and 0 errors over 7 days/ }).waitFor();
    const byTool = usage.getByRole('table', { name: 'Usage by tool' });
    expect(await byTool.getByRole('row').nth(1).getByRole('cell').allTextContents()).toEqual([
      '1',
      '0',
      expect.stringMatching(/ms$/),
      expect.stringMatching(/ms$/),
      expect.stringMatching(/ago|now/),
    ]);
    expect(await byTool.getByRole('rowheader').allTextContents()).toEqual(['mail__list_unread']);
    // The same figures as a table, for those who cannot see the chart.
    await usage.getByText('Usage per day as a table').click();
    const days = usage.getByRole('table', { name: /per day/ }).getByRole('row');
    expect(await days.count()).toBe(8);
    expect(await days.last().getByRole('cell').allTextContents()).toEqual(['1', '0', expect.stringMatching(/ms$/)]);
  });

  it('connects Notes with a key: asked in a password field, refused inline, then never shown again', async () => {
    await page.goto('/integrations');
    const notes = page.getByRole('list', { name: 'Integrations' }).getByRole('listitem', { name: 'Notes' });
    await notes.getByText('Signing in is not set up on this installation; you can connect with a key.').waitFor();
    await notes.getByRole('button', { name: 'Use a key for Notes' }).click();
    const field = notes.getByLabel('Access token');
    expect(await field.getAttribute('type')).toBe('password');
    expect(await notes.getByRole('link', { name: /How to make one/ }).getAttribute('href')).toBe('https://notes.invalid/tokens');
    await expectAccessible(page, 'the integrations page asking for a key');
    await field.fill('not-the-key');
    await notes.getByRole('button', { name: 'Connect', exact: true }).click();
    await notes.getByText(/Notes refused the key/).waitFor();
    await field.fill(notesKey);
    await notes.getByRole('button', { name: 'Connect', exact: true }).click();
    await notes.getByText(/^Connected with a key/).waitFor();
    await notes.getByRole('button', { name: 'Replace key for Notes' }).waitFor();
    expect(await page.content()).not.toContain(notesKey);
  });

  it('passes axe when connected, on a desktop', async () => {
    await expectAccessible(page, 'the integrations page, connected, on a desktop');
  });

  // A new sign-in and a full axe run: slow when the machine is busy with other suites.
  it('passes axe at 375 px in the dark, with nothing but the tables wider than the screen', { timeout: 60_000 }, async () => {
    const phone = await h.signedInPage({ path: '/integrations', width: 375, dark: true });
    await expect.poll(() => statusOf(phone)).toBe('connected');
    await phone.getByRole('img', { name: /^Calls and errors per day/ }).waitFor();
    await expectAccessible(phone, 'the integrations page at 375 px in the dark');
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await phone.context().close();
  });
});
