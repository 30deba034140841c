import type { Dialog, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatCompletions, type FakeChatCompletions } from '../../backend/test/fake-chat-completions.ts';
import { expectAccessible, startConsole, type ConsoleHarness } from './console-harness.ts';

/** A template that needs Mail, with a required variable and an enum. */
const inboxCheck = {
  slug: 'inbox-check',
  name: 'Inbox check',
  description: 'Looks at the unread mail.',
  category: 'Mail',
  systemPrompt: 'Check the {{folder}} for {{person}}.',
  variables: [
    { name: 'person', type: 'string', required: true, description: 'Whose mail' },
    { name: 'folder', type: 'enum', values: ['inbox', 'archive'], default: 'inbox' },
  ],
  integrations: { required: ['mail'] },
  steps: [{ instruction: 'List the unread mail.', tools: ['mail__list_unread'] }],
};

const card = (page: Page, name: string) => page.getByRole('listitem').filter({ has: page.getByRole('heading', { name }) });
const mailChip = (page: Page) => page.locator('[data-provider="mail"]');

describe('the console: gallery, chat and sessions, in a real browser', { timeout: 60_000 }, () => {
  let h: ConsoleHarness;
  let page: Page;
  let sessionId: string;
  let model: FakeChatCompletions;

  beforeAll(async () => {
    model = await startFakeChatCompletions();
    h = await startConsole({ MODEL_ENDPOINTS: `fake=${model.url}` });
    expect((await h.call('POST', '/v1/templates', inboxCheck)).status).toBe(201);
    page = await h.signedInPage({ path: '/agents' });
  });
  afterAll(async () => {
    await h?.close();
    await model?.close();
  });

  it('marks a missing integration in the gallery with a link to connect it, and updates when it is connected', async () => {
    const inbox = card(page, 'Inbox check');
    await expect.poll(() => inbox.getByText('Mail: missing').count()).toBe(1);
    expect(await inbox.getByRole('button', { name: /^Run Agent/ }).isDisabled()).toBe(true);
    expect(await inbox.getByRole('link', { name: 'Connect Mail' }).getAttribute('href')).toBe('/integrations#integration-mail');
    await expectAccessible(page, 'the agents gallery');

    await h.connectMail();
    await expect.poll(() => inbox.getByText('Mail: connected').count()).toBe(1);
    expect(await inbox.getByRole('button', { name: /^Run Agent/ }).isDisabled()).toBe(false);
  });

  it("runs a template from a form made from its variables, pauses and resumes it, then chats: the step's tool call, and the session completes", async () => {
    await card(page, 'Inbox check')
      .getByRole('button', { name: /^Run Agent/ })
      .click();
    const dialog = page.getByRole('dialog', { name: 'Run Inbox check' });
    expect(await dialog.getByLabel('folder').inputValue()).toBe('inbox');
    await dialog.getByRole('button', { name: 'Start session' }).click();
    // The browser refuses the form while the required field is empty.
    expect(await dialog.isVisible()).toBe(true);
    await dialog.getByLabel('person (required)').fill('Ada');
    await dialog.getByLabel('folder').selectOption('archive');
    await dialog.getByRole('button', { name: 'Start session' }).click();

    await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
    sessionId = page.url().split('/').at(-1)!;
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Inbox check');
    await expect.poll(() => page.locator('.chat-header [data-status]').first().textContent()).toBe('running');
    await expect.poll(() => mailChip(page).textContent()).toBe('Mail: connected');
    const { body } = await h.call<{ session: { variables: Record<string, unknown> } }>('GET', `/v1/sessions/${sessionId}`);
    expect(body.session.variables).toEqual({ person: 'Ada', folder: 'archive' });

    // Pausing stops the composer; resuming brings it back.
    await page.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => page.locator('.chat-header [data-status]').first().textContent()).toBe('paused');
    expect(await page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => page.locator('.chat-header [data-status]').first().textContent()).toBe('running');

    // The offline responder follows the template's one step, then completes the session.
    await page.getByLabel('Message', { exact: true }).fill('list my unread emails');
    await page.getByLabel('Message', { exact: true }).press('Enter');
    const tool = page.locator('.tool-call[data-tool="mail__list_unread"]');
    await tool.waitFor();
    await expect.poll(() => tool.getAttribute('data-status')).toBe('ok');
    await expect.poll(() => page.locator('.chat-header [data-status]').first().textContent()).toBe('completed');
    await tool.getByText('Result').click();
    expect(await tool.locator('pre').last().textContent()).toContain('ada@example.com');
    await expect.poll(() => page.getByLabel('Session usage').textContent()).toMatch(/\d+ tool calls/);
    await expectAccessible(page, 'a chat with a tool call');
  });

  it('shows a disconnect made in another tab at once, and the reconnect too', async () => {
    const other = await page.context().newPage();
    await other.goto('/integrations');
    const { body } = await h.call<{ integrations: Array<{ provider: string; connection: { id: string } | null }> }>(
      'GET',
      '/v1/integrations',
    );
    const connectionId = body.integrations.find((i) => i.provider === 'mail')!.connection!.id;
    // The other tab's session makes the change, as its page would.
    const disconnected = await other.evaluate(async (id) => {
      const { csrfToken } = await (await fetch('/v1/console/session')).json();
      return (await fetch(`/v1/integrations/${id}`, { method: 'DELETE', headers: { 'x-csrf-token': csrfToken } })).status;
    }, connectionId);
    expect(disconnected).toBe(200);
    await expect.poll(() => mailChip(page).textContent()).toBe('Mail: not connected');
    await h.connectMail();
    await expect.poll(() => mailChip(page).textContent()).toBe('Mail: connected');
    await other.close();
  });

  it('renders what users and documents contain as text or sanitised markdown: nothing runs', async () => {
    const dialogs: string[] = [];
    const onDialog = (dialog: Dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    };
    page.on('dialog', onDialog);
    const hostile =
      'Rollout note <img src=x onerror="window.__xss=1"> and [click me](javascript:window.__xss=2) <script>window.__xss=3</script>';
    const { body } = await h.call<{ document: { id: string } }>('POST', '/v1/knowledge/documents', {
      title: 'Rollout <b>plan</b>',
      content: `${hostile}\n\nThe rollout happens on Tuesday.`,
    });
    await expect
      .poll(
        async () =>
          (await h.call<{ document: { status: string } }>('GET', `/v1/knowledge/documents/${body.document.id}`)).body.document.status,
      )
      .toBe('completed');

    await page.goto('/chat');
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
    await page.getByLabel('Message', { exact: true }).fill(`When is the rollout? ${hostile}`);
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.locator('.message-assistant .markdown').last().textContent()).toContain('Tuesday');
    expect(await page.locator('.message-user').last().textContent()).toContain('<img src=x onerror="window.__xss=1">');
    const source = page.locator('.citations a');
    expect(await source.textContent()).toBe('Rollout <b>plan</b>');
    expect(await source.getAttribute('href')).toBe(`/knowledge?doc=${body.document.id}`);
    // The answer quotes the document as markdown: the link and the image are there, disarmed.
    const answer = page.locator('.message-assistant .markdown').last();
    expect(await answer.getByText('click me').evaluate((element) => [element.tagName, element.getAttribute('href')])).toEqual(['A', null]);
    expect(await answer.locator('img').evaluateAll((images) => images.map((image) => image.getAttributeNames().sort()))).toEqual([['src']]);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('img[onerror], script:not([src]), a[href^="javascript:"]').count()).toBe(0);
    expect(dialogs).toEqual([]);
    page.off('dialog', onDialog);
  });

  it('lists sessions with filters, shows a checkpoint timeline, and restores a checkpoint', async () => {
    await page.goto('/sessions');
    const rows = page.getByRole('list', { name: 'Sessions' }).locator(':scope > li');
    await expect.poll(() => rows.count()).toBe(2);
    await page.getByLabel('Template').selectOption({ label: 'Inbox check' });
    await expect.poll(() => rows.count()).toBe(1);
    await expectAccessible(page, 'the sessions page');
    const row = rows.first();
    // The turn above took checkpoints: restore the first, and the conversation goes back to before the answer.
    await row.getByText('Checkpoints').click();
    const restores = row.getByRole('button', { name: /^Restore checkpoint/ });
    await expect.poll(() => restores.count()).toBeGreaterThan(1);
    page.once('dialog', (dialog) => void dialog.accept());
    await restores.last().click();
    await page.waitForURL(`**/chat/${sessionId}`);
    await expect.poll(() => page.locator('.tool-call').count()).toBe(0);
  });

  it('keeps working across a server restart: the socket reconnects and resumes, so nothing is lost on screen', async () => {
    await page.goto(`/chat/${sessionId}`);
    await expect.poll(() => page.locator('.live').textContent()).toBe('Live');
    // The page has loaded the transcript and found where its stream starts: what is tested is the
    // socket's resume, not a page whose first requests the closing server refused.
    await page.waitForLoadState('networkidle');
    await h.restart();
    // Sent while the page is still reconnecting: the page catches up from its last event id.
    const { body } = await h.call<{ session: { conversationId: string } }>('GET', `/v1/sessions/${sessionId}`);
    expect(
      (await h.call('POST', `/v1/conversations/${body.session.conversationId}/messages`, { content: 'list my unread emails' })).status,
    ).toBe(202);
    await expect.poll(() => page.locator('.live').textContent(), { timeout: 20_000 }).toBe('Live');
    await expect
      .poll(() => page.locator('.tool-call[data-tool="mail__list_unread"][data-status="ok"]').count(), { timeout: 20_000 })
      .toBe(1);
    await expect.poll(() => page.locator('.message-assistant .markdown').last().textContent()).toContain('Quarterly numbers');
  });

  it('loads what a restarting server refused once the socket is back, without a reload', async () => {
    // The page's read of its session meets a server that is shutting down.
    const sessionUrl = `**/v1/sessions/${sessionId}`;
    await page.route(sessionUrl, (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'SHUTTING_DOWN', message: 'The server is shutting down; retry in a moment.' } }),
      }),
    );
    await page.goto(`/chat/${sessionId}`);
    await expect.poll(() => page.locator('.error-note').textContent()).toContain('shutting down');
    await page.unroute(sessionUrl);
    await h.restart();
    await expect.poll(() => page.locator('.message-assistant').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    expect(await page.locator('.error-note').count()).toBe(0);
  });

  it('resumes a turn the server was stopped in the middle of, and the page shows it finish', async () => {
    const agent = await h.call<{ agent: { id: string } }>('POST', '/v1/agents', { name: 'Slow writer', model: 'fake:slow' });
    const { body } = await h.call<{ session: { id: string } }>('POST', '/v1/sessions', { agentId: agent.body.agent.id });
    // Ten seconds of streaming: the server stops in the middle of it, and the resumed turn asks again.
    model.replies.push(
      { kind: 'text', text: 'Partial answer. '.repeat(60), pieceLength: 8, pieceDelayMs: 40 },
      { kind: 'text', text: 'The whole answer, after the restart.' },
    );
    await page.goto(`/chat/${body.session.id}`);
    await page.getByLabel('Message', { exact: true }).fill('Write slowly');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('[data-streaming]').waitFor();
    await h.restart();
    await expect
      .poll(() => page.locator('.message-assistant .markdown').last().textContent(), { timeout: 30_000 })
      .toContain('The whole answer, after the restart.');
    await expect.poll(() => page.locator('.turn-state').textContent()).toBe('');
    // What streamed before the stop is not left on screen as if it were still coming.
    await expect.poll(() => page.locator('[data-streaming]').count()).toBe(0);
    expect(await page.locator('.message-assistant').count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true); // enabled again once something is typed
    await page.getByLabel('Message', { exact: true }).fill('Thanks');
    expect(await page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(false);
  });

  it('starts a matching workflow straight from a first chat message, and offers a plain chat otherwise', async () => {
    const digest = {
      ...inboxCheck,
      slug: 'mail-digest',
      name: 'Mail digest',
      variables: [],
      systemPrompt: 'Summarise the unread mail.',
      examples: ['summarise my unread mail'],
    };
    expect((await h.call('POST', '/v1/templates', digest)).status).toBe(201);
    await page.goto('/chat');
    await page.getByLabel('Message', { exact: true }).fill('summarise my unread mail');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Mail digest');
    await expect.poll(() => page.locator('.tool-call[data-tool="mail__list_unread"][data-status="ok"]').count()).toBe(1);

    await page.goto('/chat');
    await page.getByLabel('Message', { exact: true }).fill('hello there');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('button', { name: 'Send it to my agent' }).click();
    await page.waitForURL(/\/chat\/[0-9a-f-]{36}$/);
    await expect.poll(() => page.locator('.message-user').first().textContent()).toContain('hello there');
    await expect.poll(() => page.locator('.message-assistant').count()).toBe(1);
  });

  it('works at 375 px in dark mode', async () => {
    const phone = await h.signedInPage({ path: `/chat/${sessionId}`, width: 375, dark: true });
    await phone.getByRole('heading', { level: 1, name: 'Inbox check' }).waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    expect(await phone.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(18, 20, 23)');
    await expectAccessible(phone, 'the chat at 375 px, dark');
    await phone.goto('/agents');
    await phone.getByRole('heading', { name: 'Inbox check' }).waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await expectAccessible(phone, 'the gallery at 375 px, dark');
    await phone.context().close();
  });
});
