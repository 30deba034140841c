import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsole, type ConsoleHarness } from './console-harness.ts';

/** A workflow of the gallery, what its form is given, and the tools its steps name, in order. */
interface Journey {
  name: string;
  fill: Record<string, string>;
  /** Typed when the template has no prompt of its own to put in the composer. */
  message?: string;
  calls: string[];
  /** Text of the sandbox's sample data that the calls' results show. */
  sample: string[];
}

const journeys: Journey[] = [
  {
    name: 'Email triage',
    fill: {},
    calls: ['gmail__list_unread', 'gmail__create_draft'],
    sample: ['Urgent: CSV exports failing since Monday', 'draftId'],
  },
  {
    name: 'Meeting scheduler',
    fill: { 'topic (required)': 'the launch review', 'attendees (required)': 'maya@larkspur.example\npriya@larkspur.example' },
    calls: ['google-calendar__find_free_time', 'google-calendar__create_event', 'gmail__send_email'],
    sample: ['slots', 'maya@larkspur.example'],
  },
  {
    name: 'Channel digest',
    fill: { 'channels (required)': 'general', postTo: 'general' },
    message: 'Write the digest of general.',
    calls: ['slack__get_channel_history', 'slack__post_message'],
    sample: ['Insights 2.0 launches Thursday', 'C0GENERAL1'],
  },
];

const card = (page: Page, name: string) => page.getByRole('listitem').filter({ has: page.getByRole('heading', { name }) });
const sessionStatus = (page: Page) => page.locator('.chat-header [data-status]').first().textContent();

/**
 * A newcomer's first run, on a fresh install with the shipped catalogue and no language model: they
 * connect the keyless Sandbox, then run email triage, the meeting scheduler and the channel digest
 * from the gallery. The offline responder walks each template's steps, so every step's tool is
 * called against the sandbox's sample data and shown in the chat as done (the user approving each
 * call that writes), and the session completes.
 */
describe('the console: a first run with the Sandbox and no model', { timeout: 60_000 }, () => {
  let h: ConsoleHarness;
  let page: Page;

  beforeAll(async () => {
    // The installation's own catalogue (the server runs from the repository root), as `npm start` reads it.
    h = await startConsole({ INTEGRATIONS_CATALOGUE: 'config/integrations.yaml' });
    page = await h.signedInPage({ path: '/integrations' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('connects the Sandbox with one click, with nothing to fill in', async () => {
    const sandbox = page.getByRole('list', { name: 'Integrations' }).getByRole('listitem', { name: 'Sandbox' });
    await expect.poll(() => sandbox.locator('[data-status]').textContent()).toBe('not connected');
    await sandbox.getByRole('button', { name: 'Connect Sandbox' }).click();
    await expect.poll(() => sandbox.locator('[data-status]').textContent()).toBe('connected');
  });

  it.each(journeys)(
    'runs $name from the gallery to completed, each step calling its sandbox tool',
    async ({ name, fill, message, calls, sample }) => {
      await page.goto('/agents');
      const run = card(page, name).getByRole('button', { name: /^Run Agent/ });
      await expect.poll(() => run.isDisabled()).toBe(false);
      await run.click();
      const dialog = page.getByRole('dialog', { name: `Run ${name}` });
      for (const [label, value] of Object.entries(fill)) await dialog.getByLabel(label, { exact: true }).fill(value);
      await dialog.getByRole('button', { name: 'Start session' }).click();
      await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
      await expect.poll(() => sessionStatus(page)).toBe('running');

      const composer = page.getByLabel('Message', { exact: true });
      if (message) await composer.fill(message);
      else await expect.poll(() => composer.inputValue()).not.toBe('');
      await page.getByRole('button', { name: 'Send' }).click();

      // Calls that write (a draft, an event, a mail, a post) wait at a card for the user: approve each.
      const deadline = Date.now() + 20_000;
      while ((await sessionStatus(page)) !== 'completed') {
        if (Date.now() > deadline) throw new Error(`the session is still ${await sessionStatus(page)}`);
        const approve = page.locator('.approval-card').first().getByRole('button', { name: 'Approve', exact: true });
        if (await approve.isVisible()) await approve.click();
        await page.waitForTimeout(100);
      }
      const shown = page.locator('.tool-call');
      await expect
        .poll(() => shown.evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-tool'))))
        .toEqual([...calls, 'complete_session']);
      expect(await shown.evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-status')))).toEqual(
        [...calls, 'complete_session'].map(() => 'ok'),
      );
      expect(await page.locator('.tool-call .error-note').count()).toBe(0);
      const results = (await shown.locator('details').filter({ hasText: 'Result' }).allTextContents()).join('\n');
      for (const text of sample) expect(results).toContain(text);
    },
  );
});
