import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsole, type ConsoleHarness } from './console-harness.ts';

const sessionStatus = (page: Page) => page.locator('.chat-header [data-status]').first().textContent();
const cardOf = (page: Page, tool: string) => page.locator(`.approval-card[data-tool="${tool}"]`);

/**
 * Approving a workflow's mail from the chat: the meeting scheduler, run on the Sandbox with the
 * offline responder, stops at a card for each call that writes; the user approves the event, edits
 * the invitation's subject and approves it; the mail goes out with the edited subject, and the
 * chat shows the call done. The header's badge counts what waits, live.
 */
describe('the console: approving tool calls', { timeout: 90_000 }, () => {
  let h: ConsoleHarness;
  let page: Page;

  beforeAll(async () => {
    h = await startConsole({ INTEGRATIONS_CATALOGUE: 'config/integrations.yaml' });
    page = await h.signedInPage({ path: '/integrations' });
    const sandbox = page.getByRole('list', { name: 'Integrations' }).getByRole('listitem', { name: 'Sandbox' });
    await sandbox.getByRole('button', { name: 'Connect Sandbox' }).click();
    await sandbox.locator('[data-status="connected"]').waitFor();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('stops at a card, takes an edited subject, and sends the mail with it', async () => {
    await page.goto('/agents');
    const run = page
      .getByRole('listitem')
      .filter({ has: page.getByRole('heading', { name: 'Meeting scheduler' }) })
      .getByRole('button', { name: /^Run Agent/ });
    await expect.poll(() => run.isDisabled()).toBe(false);
    await run.click();
    const dialog = page.getByRole('dialog', { name: 'Run Meeting scheduler' });
    await dialog.getByLabel('topic (required)', { exact: true }).fill('the launch review');
    await dialog.getByLabel('attendees (required)', { exact: true }).fill('maya@larkspur.example');
    await dialog.getByRole('button', { name: 'Start session' }).click();
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
    await expect.poll(() => page.getByLabel('Message', { exact: true }).inputValue()).not.toBe('');
    await page.getByRole('button', { name: 'Send' }).click();

    // The event waits first: the card says what it would do, and the header counts it.
    const event = cardOf(page, 'google-calendar__create_event');
    await event.waitFor({ timeout: 20_000 });
    await expect.poll(() => page.locator('.approval-badge .count').getAttribute('data-count')).toBe('1');
    expect(await sessionStatus(page)).toBe('running');
    // The chat says what the turn waits for, also when the page is opened anew meanwhile.
    const turnState = page.locator('.turn-state');
    await expect.poll(() => turnState.textContent()).toBe('The agent waits for your approval of a tool call.');
    await page.reload();
    await event.waitFor();
    await expect.poll(() => turnState.textContent()).toBe('The agent waits for your approval of a tool call.');
    // A message meanwhile would be refused (APPROVAL_PENDING): the composer does not offer to send one.
    await page.getByLabel('Message', { exact: true }).fill('Are you done?');
    expect(await page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
    await event.getByRole('button', { name: 'Approve', exact: true }).click();

    // Then the invitation: its recipients shown, its subject edited before it goes.
    const mail = cardOf(page, 'gmail__send_email');
    await mail.waitFor({ timeout: 20_000 });
    expect(await mail.locator('[data-argument="to"]').textContent()).toContain('maya@larkspur.example');
    await mail.getByRole('button', { name: 'Edit' }).click();
    await mail.getByLabel('subject', { exact: true }).fill('Edited: launch review at last');
    await mail.getByRole('button', { name: 'Approve with these arguments' }).click();

    await expect.poll(() => sessionStatus(page), { timeout: 20_000 }).toBe('completed');
    const sent = page.locator('.tool-call[data-tool="gmail__send_email"]');
    await expect.poll(() => sent.getAttribute('data-status')).toBe('ok');
    await expect.poll(() => page.locator('.approval-badge .count').getAttribute('data-count')).toBe('0');
    expect(await page.locator('.approval-card').count()).toBe(0);

    // The mailbox has the mail with the edited subject (read with a tool that needs no approval).
    const { body: created } = await h.call<{ session: { conversationId: string } }>('POST', '/v1/sessions', {});
    const { body: read } = await h.call<{ message: { content: string } }>(
      'POST',
      `/v1/conversations/${created.session.conversationId}/messages?wait=true`,
      { content: '/tool gmail__search_messages {"query": "in:sent"}' },
    );
    expect(read.message.content).toContain('Edited: launch review at last');
  });

  it('lists an "always allow" rule in Settings and removes it', async () => {
    const { body } = await h.call<{ session: { id: string; conversationId: string } }>('POST', '/v1/sessions', {});
    await page.goto(`/chat/${body.session.id}`);
    const composer = page.getByLabel('Message', { exact: true });
    await composer.fill('/tool gmail__create_draft {"to": ["maya@larkspur.example"], "subject": "Notes", "body": "Draft."}');
    await page.getByRole('button', { name: 'Send' }).click();
    const draft = cardOf(page, 'gmail__create_draft');
    await draft.waitFor({ timeout: 20_000 });
    await draft.getByRole('button', { name: 'Always allow' }).click();
    await expect.poll(() => page.locator('.tool-call[data-tool="gmail__create_draft"]').getAttribute('data-status')).toBe('ok');

    await page.goto('/settings#approvals');
    const rules = page.getByRole('list', { name: 'Always allowed tools' });
    await expect.poll(() => rules.textContent()).toContain('gmail__create_draft');
    await rules.getByRole('button', { name: 'Remove the rule for gmail__create_draft' }).click();
    await expect.poll(() => rules.locator('li').count()).toBe(0);
  });
});
