import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, startConsole, type ConsoleHarness } from './console-harness.ts';

const card = (page: Page, name: string) =>
  page
    .getByRole('list', { name: 'Triggers' })
    .getByRole('listitem')
    .filter({ has: page.getByRole('heading', { name }) });
const unreadCount = (page: Page) => page.locator('.notifications-count').textContent();

/**
 * Triggers as a user meets them, with the offline responder (it walks the template's steps to
 * completed): a schedule made on the Triggers page from a template, its next five times shown
 * while it is written, fired now, its run finishing in the history with a link to its session,
 * and the notification arriving live in the header; then a webhook whose secret is shown once
 * and whose test delivery, signed in the browser, fires a run.
 */
describe('the console: triggers and notifications', { timeout: 90_000 }, () => {
  let h: ConsoleHarness;
  let page: Page;

  beforeAll(async () => {
    h = await startConsole({ TRIGGER_TICK_MS: '200' });
    page = await h.signedInPage({ path: '/triggers' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates a schedule with its next five times, fires it now, shows the run finish and the notification', async () => {
    await page.getByRole('heading', { level: 1, name: 'Triggers' }).waitFor();
    await page.getByRole('button', { name: 'New trigger' }).click();
    const form = page.getByRole('form', { name: 'New trigger' });
    await form.getByLabel('Name').fill('Morning research');
    await form.getByLabel('Template').selectOption({ label: 'Research summary' });
    await form.getByLabel('topic (required)').fill('tide tables');
    await form.getByLabel('Cron expression', { exact: true }).fill('30 7 * * *');
    const upcoming = form.getByRole('list', { name: 'Next five runs' }).getByRole('listitem');
    await expect.poll(() => upcoming.count()).toBe(5);
    expect(await upcoming.first().textContent()).toMatch(/07:30/);
    await form.getByLabel('Cron expression', { exact: true }).fill('61 * * * *');
    await expect.poll(() => form.locator('.schedule-preview').textContent()).toMatch(/cron/i);
    await form.getByLabel('Cron expression', { exact: true }).fill('30 7 * * *');
    await expect.poll(() => upcoming.count()).toBe(5);
    await expectAccessible(page, 'the new trigger form');
    await form.getByRole('button', { name: 'Save trigger' }).click();

    const morning = card(page, 'Morning research');
    await morning.waitFor();
    expect(await morning.locator('[data-status]').first().textContent()).toBe('active');
    expect(await unreadCount(page)).toMatch(/^,?\s*0/);
    await morning.getByRole('button', { name: /^Fire now/ }).click();

    const history = morning.getByRole('region', { name: 'Run history' });
    await expect
      .poll(() => history.locator('tbody [data-status]').first().getAttribute('data-status'), { timeout: 30_000 })
      .toBe('completed');
    const sessionLink = history.getByRole('link', { name: /^Open session/ });
    expect(await sessionLink.getAttribute('href')).toMatch(/^\/chat\/[0-9a-f-]{36}$/);

    // The notification arrived over the live connection: counted, and listed in the header.
    await expect.poll(() => unreadCount(page)).toContain('1');
    await page.getByRole('button', { name: /^Notifications/ }).click();
    const panel = page.getByRole('region', { name: 'Notifications' });
    await expect.poll(() => panel.getByRole('listitem').first().textContent()).toContain('"Morning research" finished');
    await expectAccessible(page, 'the notifications list');
    await panel.getByRole('button', { name: 'Mark all read' }).click();
    await expect.poll(() => unreadCount(page)).toMatch(/\b0\b/);
    const read = await h.call<{ unread: number }>('GET', '/v1/notifications');
    expect(read.body.unread).toBe(0);

    await panel.getByRole('link', { name: '"Morning research" finished' }).click();
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
  });

  it('shows a webhook secret once, and its test delivery, signed in the browser, fires a run', async () => {
    await page.goto('/triggers');
    await page.getByRole('button', { name: 'New trigger' }).click();
    const form = page.getByRole('form', { name: 'New trigger' });
    await form.getByLabel('Name').fill('Inbound hook');
    await form.getByLabel('Template').selectOption({ label: 'Research summary' });
    await form.getByLabel('topic (required)').fill('harbours');
    await form.getByLabel('Runs').selectOption('webhook');
    await form.getByRole('button', { name: 'Save trigger' }).click();

    const hook = card(page, 'Inbound hook');
    const secret = hook.getByRole('region', { name: 'Webhook secret' });
    expect(await secret.getByLabel('Secret').inputValue()).toMatch(/.{20,}/);
    expect(await secret.getByLabel('Delivery URL').inputValue()).toMatch(/\/v1\/hooks\/[0-9a-f-]{36}$/);
    await expectAccessible(page, 'a webhook secret shown once');
    await secret.getByRole('button', { name: 'Send a test delivery' }).click();
    await expect.poll(() => secret.getByRole('status').textContent()).toMatch(/^Delivered: the signature held/);
    const history = hook.getByRole('region', { name: 'Run history' });
    await expect.poll(() => history.locator('tbody tr').count()).toBe(1);
    expect(await history.locator('tbody td').nth(1).textContent()).toBe('webhook');

    await secret.getByRole('button', { name: 'I have copied it' }).click();
    await expect.poll(() => hook.getByRole('region', { name: 'Webhook secret' }).count()).toBe(0);
    await page.reload();
    await card(page, 'Inbound hook').waitFor();
    expect(await page.getByLabel('Secret').count()).toBe(0);
  });

  it('fits a phone in the dark, header and page alike', async () => {
    const phone = await h.signedInPage({ path: '/triggers', width: 375, dark: true });
    await card(phone, 'Morning research').waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await phone.getByRole('button', { name: /^Notifications/ }).click();
    const panel = phone.getByRole('region', { name: 'Notifications' });
    await panel.waitFor();
    const box = (await panel.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(375);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await expectAccessible(phone, 'the Triggers page on a phone, in the dark');
    await phone.context().close();
  });
});
