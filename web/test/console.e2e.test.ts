import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, startConsole, type ConsoleHarness } from './console-harness.ts';

describe('the console: sign-in, the frame of every page, sign-out', () => {
  let h: ConsoleHarness;
  beforeAll(async () => {
    h = await startConsole();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is served by the API server at / with a strict Content-Security-Policy, and asks for a token', async () => {
    const response = await fetch(`${h.url}/agents`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    const context = await h.context();
    const page = await context.newPage();
    await page.goto('/');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in to Agentry');
    await expectAccessible(page, 'the sign-in page');
    await page.getByLabel('API token').fill('agt_not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/invalid, expired or revoked/);
    await context.close();
  });

  it('signs in with a token, keeps no token in the page, and signing out ends the session and its socket', async () => {
    const page: Page = await h.signedInPage();
    expect(page.url()).toBe(`${h.url}/agents`);
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toContainEqual(['agentry_session', true, 'Strict']);
    expect(await page.evaluate(() => document.cookie)).not.toContain('agt_');
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }))).not.toContain('agt_');
    const session = cookies.find((c) => c.name === 'agentry_session')!.value;
    // A reload keeps the session (the cookie), and its live connection opens; signing out closes it.
    const opened = page.waitForEvent('websocket', (ws) => ws.url().endsWith('/v1/ws'));
    await page.reload();
    const socket = await opened;
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await page.waitForFunction(() => document.querySelector('.live')?.textContent === 'Live');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in to Agentry');
    const after = await fetch(`${h.url}/v1/me`, { headers: { authorization: `Bearer ${session}` } });
    expect(after.status).toBe(401);
    await closed;
    await page.context().close();
  });

  it('can be used with the keyboard alone: a skip link first, then the pages, with a visible focus', async () => {
    const page = await h.signedInPage({ path: '/agents' });
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).toBe('solid');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    await page.keyboard.press('Shift+Tab');
    for (let i = 0; i < 8 && (await page.evaluate(() => document.activeElement?.textContent)) !== 'Sessions'; i++)
      await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/sessions');
    await page.getByRole('heading', { level: 1, name: 'Sessions' }).waitFor();
    // The new page's content has the focus, so the next Tab goes into it.
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('main');
    await page.context().close();
  });
});
