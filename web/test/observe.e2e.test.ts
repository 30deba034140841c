import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatCompletions, type FakeChatCompletions } from '../../backend/test/fake-chat-completions.ts';
import { expectAccessible, startConsole, type ConsoleHarness } from './console-harness.ts';

describe('the console: a banner while the default model is down, and a turn timeline', { timeout: 60_000 }, () => {
  let h: ConsoleHarness;
  let page: Page;
  let model: FakeChatCompletions;

  beforeAll(async () => {
    // This fake serves chat completions but no models list, so the health check finds it down.
    model = await startFakeChatCompletions();
    h = await startConsole({ MODEL_ENDPOINTS: `fake=${model.url}`, DEFAULT_MODEL: 'fake:scripted', MODEL_HEALTH_INTERVAL_MS: '200' });
    page = await h.signedInPage({ path: '/chat' });
  });
  afterAll(async () => {
    await h?.close();
    await model?.close();
  });

  it('says the default model is down on every page', async () => {
    const banner = page.locator('.health-banner');
    await expect.poll(() => banner.textContent(), { timeout: 10_000 }).toContain('The default model (fake:scripted) is not reachable');
    expect(await banner.textContent()).not.toContain('embedding model');
  });

  it("shows a turn's model calls and tool calls on a time axis with durations, tokens and cost", async () => {
    model.replies.push(
      { kind: 'tool-call', name: 'knowledge_search', arguments: { query: 'rollout' } },
      { kind: 'text', text: 'Nothing.' },
    );
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
    await page.getByLabel('Message', { exact: true }).fill('When is the rollout?');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('.message-assistant .markdown').last().textContent()).toContain('Nothing.');
    await page.getByText('Timeline', { exact: true }).click();
    const rows = page.locator('.timeline-row');
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.nth(0).textContent()).toMatch(/Model fake:scripted \(step 1\).*ms.*in · \d+ out/);
    expect(await rows.nth(1).textContent()).toMatch(/Tool knowledge_search \(step 1\).*ms · ok/);
    expect(await rows.nth(2).textContent()).toMatch(/Model fake:scripted \(step 2\)/);
    await expectAccessible(page, 'a turn timeline and the model banner');
  });
});
