import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeBody, startFakeGmailApi, type FakeGmailApi, type StoredMessage } from '../../../../test/fakes/fake-gmail-api.ts';
import { ProviderApi } from '../provider-api.ts';
import { gmailServer, messageBodyChars } from './index.ts';

let gmail: FakeGmailApi;
let server: McpServer;
let client: Client;
/** The token the connection holds; `renew` decides what a refresh gives after a 401. */
let current: string;
let renew: (rejected: string) => string | undefined;
let renewals: string[];

beforeEach(async () => {
  gmail = await startFakeGmailApi();
  current = 'token-1';
  gmail.tokens.add(current);
  renewals = [];
  renew = () => {
    gmail.tokens.add('token-2');
    return 'token-2';
  };
  const api = new ProviderApi({
    name: 'Gmail',
    baseUrl: gmail.url,
    fetch: globalThis.fetch,
    token: async (rejected) => {
      if (rejected) {
        renewals.push(rejected);
        const renewed = renew(rejected);
        if (renewed) current = renewed;
        return renewed;
      }
      return current;
    },
    timeoutMs: 5_000,
    maxResponseBytes: 4 * 1024 * 1024,
  });
  server = gmailServer(api);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  client = new Client({ name: 'gmail-test', version: '1.0.0' });
  await client.connect(clientSide);
});

afterEach(async () => {
  await client.close();
  await server.close();
  await gmail.close();
});

async function call(name: string, args: Record<string, unknown> = {}) {
  const result = await client.callTool({ name, arguments: args });
  const text = (result.content as Array<{ type: string; text: string }>)[0]!.text;
  return { isError: result.isError === true, text, json: () => JSON.parse(text) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** The RFC 5322 headers Agentry handed Gmail, one entry per header line (unfolded). */
function sentHeaders(message: StoredMessage): string[] {
  const head = message.raw!.slice(0, message.raw!.indexOf('\r\n\r\n'));
  return head.replace(/\r\n[ \t]+/g, ' ').split('\r\n');
}
const headerValue = (message: StoredMessage, name: string) =>
  sentHeaders(message)
    .find((line) => line.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    ?.slice(name.length + 1)
    .trim();
const sentBody = (message: StoredMessage) =>
  decodeBody(message.raw!.slice(message.raw!.indexOf('\r\n\r\n') + 4), message.raw!.slice(0, message.raw!.indexOf('\r\n\r\n')));
const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000);

describe('the Gmail server', () => {
  it('lists every tool with a title, a description and truthful annotations', async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    const reading = ['search_messages', 'list_unread', 'get_message', 'get_thread', 'list_labels'];
    const writing = ['create_draft', 'send_draft', 'send_email', 'modify_labels', 'archive_message'];
    expect([...byName.keys()].sort()).toEqual([...reading, ...writing].sort());
    for (const tool of tools) {
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.description!.length, tool.name).toBeGreaterThan(40);
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const)
        expect(typeof tool.annotations?.[hint], `${tool.name}.${hint}`).toBe('boolean');
    }
    for (const name of reading) expect(byName.get(name)!.annotations).toMatchObject({ readOnlyHint: true, idempotentHint: true });
    for (const name of writing) expect(byName.get(name)!.annotations!.readOnlyHint, name).toBe(false);
    for (const name of ['send_email', 'send_draft', 'create_draft'])
      expect(byName.get(name)!.annotations!.idempotentHint, name).toBe(false);
    for (const name of ['send_email', 'send_draft']) expect(byName.get(name)!.description).toContain('no idempotency key');
    for (const name of ['modify_labels', 'archive_message']) expect(byName.get(name)!.annotations!.idempotentHint, name).toBe(true);
  });

  it('search_messages answers summaries page by page, with Gmail query syntax', async () => {
    gmail.addMessage({ from: 'Ana Lima <ana@example.com>', to: ['me@example.com'], subject: 'Invoice 1', text: 'first', date: daysAgo(2) });
    gmail.addMessage({ from: 'Bo <bo@example.com>', to: ['me@example.com'], subject: 'Lunch?', text: 'noon', date: daysAgo(1) });
    gmail.addMessage({
      from: 'Ana Lima <ana@example.com>',
      to: ['me@example.com'],
      cc: ['Cy <cy@example.com>'],
      subject: 'Invoice 2',
      text: 'second',
    });

    const first = await call('search_messages', { query: 'from:ana@example.com', maxResults: 1 });
    expect(first.isError).toBe(false);
    const page1 = first.json();
    expect(page1.messages).toHaveLength(1);
    expect(page1.messages[0]).toMatchObject({ from: 'Ana Lima <ana@example.com>', subject: 'Invoice 2', cc: ['Cy <cy@example.com>'] });
    expect(page1.messages[0].labelIds).toEqual(['INBOX', 'UNREAD']);
    expect(page1.resultSizeEstimate).toBe(2);
    expect(page1.nextPageToken).toBeTruthy();

    const page2 = (await call('search_messages', { query: 'from:ana@example.com', maxResults: 1, pageToken: page1.nextPageToken })).json();
    expect(page2.messages.map((m: { subject: string }) => m.subject)).toEqual(['Invoice 1']);
    expect(page2.nextPageToken).toBeUndefined();

    const list = gmail.requests.find((r) => r.path === '/gmail/v1/users/me/messages' && r.query.get('pageToken'))!;
    expect(list.query.get('q')).toBe('from:ana@example.com');
    expect(list.query.get('maxResults')).toBe('1');
    const get = gmail.requests.find((r) => r.path.startsWith('/gmail/v1/users/me/messages/'))!;
    expect(get.query.get('format')).toBe('metadata');
    expect(get.query.getAll('metadataHeaders')).toContain('Subject');
  });

  it('list_unread answers unread inbox mail newer than the period asked', async () => {
    gmail.addMessage({ from: 'a@example.com', to: ['me@example.com'], subject: 'Fresh', text: 'new', date: daysAgo(0.5) });
    gmail.addMessage({ from: 'b@example.com', to: ['me@example.com'], subject: 'Stale', text: 'old', date: daysAgo(5) });
    gmail.addMessage({ from: 'c@example.com', to: ['me@example.com'], subject: 'Read', text: 'seen', labelIds: ['INBOX'] });
    gmail.addMessage({ from: 'd@example.com', to: ['me@example.com'], subject: 'Archived', text: 'away', labelIds: ['UNREAD'] });

    const recent = (await call('list_unread', { newerThan: '3d' })).json();
    expect(recent.messages.map((m: { subject: string }) => m.subject)).toEqual(['Fresh']);
    const all = (await call('list_unread')).json();
    expect(all.messages.map((m: { subject: string }) => m.subject)).toEqual(['Fresh', 'Stale']);
    const request = gmail.requests.find((r) => r.path === '/gmail/v1/users/me/messages')!;
    expect(request.query.getAll('labelIds').sort()).toEqual(['INBOX', 'UNREAD']);
    expect(request.query.get('q')).toBe('newer_than:3d');

    const bad = await call('list_unread', { newerThan: '3 hours' });
    expect(bad.isError).toBe(true);
  });

  it('get_message prefers the plain-text part, names attachments, and cuts a long body with a note', async () => {
    const both = gmail.addMessage({
      from: 'Ana <ana@example.com>',
      to: ['me@example.com'],
      subject: 'Both',
      text: 'Plain words here.',
      html: '<p>HTML words</p>',
      attachments: [{ filename: 'report.pdf', mimeType: 'application/pdf', size: 1234 }],
    });
    const read = (await call('get_message', { messageId: both.id })).json();
    expect(read).toMatchObject({
      id: both.id,
      threadId: both.threadId,
      subject: 'Both',
      body: 'Plain words here.',
      attachments: ['report.pdf'],
    });
    expect(gmail.requests.at(-1)!.query.get('format')).toBe('full');

    const long = gmail.addMessage({ from: 'a@example.com', to: ['me@example.com'], subject: 'Long', text: 'word '.repeat(5_000) });
    const cut = (await call('get_message', { messageId: long.id })).json();
    expect(cut.body.length).toBe(messageBodyChars);
    expect(cut.note).toContain(`cut at ${messageBodyChars}`);
  });

  it('get_message reads an HTML-only mail as text: markup, scripts and styles gone, entities decoded', async () => {
    const html = gmail.addMessage({
      from: 'news@example.com',
      to: ['me@example.com'],
      subject: 'Newsletter',
      html: '<html><head><style>p{color:red}</style></head><body><script>alert(1)</script><h1>Big&nbsp;news</h1><p>Tom &amp; Jerry&#39;s <b>show</b></p><ul><li>one</li><li>two</li></ul><!-- hidden --></body></html>',
    });
    const read = (await call('get_message', { messageId: html.id })).json();
    expect(read.body).toBe("Big news\n\nTom & Jerry's show\n\n- one\n- two");

    // One pass over the markup: 100,000 nested elements are read at once, not in seconds.
    const deep = gmail.addMessage({
      from: 'x@example.com',
      to: ['me@example.com'],
      subject: 'Deep',
      html: '<div>'.repeat(100_000) + 'core',
    });
    const started = performance.now();
    const deepRead = await call('get_message', { messageId: deep.id });
    expect(deepRead.json().body).toBe('core');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('get_thread answers a conversation oldest first, ten messages a page', async () => {
    const first = gmail.addMessage({
      from: 'a@example.com',
      to: ['me@example.com'],
      subject: 'Plan',
      text: 'message 0',
      date: daysAgo(12),
    });
    for (let i = 1; i < 12; i++)
      gmail.addMessage({
        from: 'a@example.com',
        to: ['me@example.com'],
        subject: 'Re: Plan',
        text: `message ${i}`,
        threadId: first.threadId,
        date: daysAgo(12 - i),
      });

    const page1 = (await call('get_thread', { threadId: first.threadId })).json();
    expect(page1.messageCount).toBe(12);
    expect(page1.messages).toHaveLength(10);
    expect(page1.messages[0].body).toBe('message 0');
    expect(page1.nextPageToken).toBe('10');
    const page2 = (await call('get_thread', { threadId: first.threadId, pageToken: page1.nextPageToken })).json();
    expect(page2.messages.map((m: { body: string }) => m.body)).toEqual(['message 10', 'message 11']);
    expect(page2.nextPageToken).toBeUndefined();
  });

  it('list_labels answers system labels and the user’s own', async () => {
    const { labels } = (await call('list_labels')).json();
    expect(labels).toContainEqual({ id: 'INBOX', name: 'INBOX', type: 'system' });
    expect(labels).toContainEqual({ id: 'Label_1', name: 'Clients', type: 'user' });
  });

  it('create_draft saves a reply in the original’s thread, to its Reply-To, with threading headers', async () => {
    const original = gmail.addMessage({
      from: 'Ana <ana@example.com>',
      replyTo: 'Billing <billing@example.com>',
      to: ['me@example.com'],
      subject: 'Invoice 7',
      text: 'Please confirm.',
      messageIdHeader: '<orig-7@mail.example.com>',
      references: '<older-6@mail.example.com>',
    });
    const result = await call('create_draft', { body: 'Confirmed, thanks.', replyToMessageId: original.id });
    expect(result.isError).toBe(false);
    const draft = result.json();
    expect(draft.threadId).toBe(original.threadId);
    expect(gmail.drafts.get(draft.draftId)).toBe(draft.messageId);

    const stored = gmail.messages.get(draft.messageId)!;
    expect(stored.labelIds).toEqual(['DRAFT']);
    expect(stored.threadId).toBe(original.threadId);
    expect(headerValue(stored, 'To')).toBe('Billing <billing@example.com>');
    expect(headerValue(stored, 'Subject')).toBe('Re: Invoice 7');
    expect(headerValue(stored, 'In-Reply-To')).toBe('<orig-7@mail.example.com>');
    expect(headerValue(stored, 'References')).toBe('<older-6@mail.example.com> <orig-7@mail.example.com>');
    expect(sentBody(stored).trim()).toBe('Confirmed, thanks.');
    const create = gmail.requests.find((r) => r.method === 'POST' && r.path === '/gmail/v1/users/me/drafts')!;
    expect((create.body as { message: { threadId: string } }).message.threadId).toBe(original.threadId);
  });

  it('create_draft without a recipient or a message to answer is a tool error', async () => {
    const result = await call('create_draft', { subject: 'Hi', body: 'To whom?' });
    expect(result.isError).toBe(true);
    expect(result.text).toContain('whom to write to');
    expect(gmail.drafts.size).toBe(0);
  });

  it('send_draft sends a saved draft, which leaves the drafts', async () => {
    const draft = (await call('create_draft', { to: ['bo@example.com'], subject: 'Agenda', body: 'Items: 1, 2.' })).json();
    const sent = await call('send_draft', { draftId: draft.draftId });
    expect(sent.isError).toBe(false);
    expect(sent.json()).toEqual({ messageId: draft.messageId, threadId: draft.threadId, labelIds: ['SENT'] });
    expect(gmail.drafts.size).toBe(0);
    expect(gmail.messages.get(draft.messageId)!.labelIds).toEqual(['SENT']);
    expect(gmail.requests.at(-1)).toMatchObject({ method: 'POST', path: '/gmail/v1/users/me/drafts/send', body: { id: draft.draftId } });
  });

  it('send_email sends a composed message: recipients, subject, body, and a Bcc Gmail can see', async () => {
    const result = await call('send_email', {
      to: ['Bo Berg <bo@example.com>', 'cy@example.com'],
      cc: ['dee@example.com'],
      bcc: ['eve@example.com'],
      subject: 'Quarterly numbers ✓',
      body: 'Revenue is up.\nCosts are down.',
    });
    expect(result.isError).toBe(false);
    const sent = gmail.messages.get(result.json().messageId)!;
    expect(sent.labelIds).toEqual(['SENT']);
    expect(headerValue(sent, 'To')).toBe('Bo Berg <bo@example.com>, cy@example.com');
    expect(headerValue(sent, 'Cc')).toBe('dee@example.com');
    expect(headerValue(sent, 'Bcc')).toBe('eve@example.com');
    expect(headerValue(sent, 'Subject')).toBe('=?UTF-8?Q?Quarterly_numbers_=E2=9C=93?=');
    expect(sentBody(sent).replace(/\r\n/g, '\n').trim()).toBe('Revenue is up.\nCosts are down.');
    expect(headerValue(sent, 'In-Reply-To')).toBeUndefined();
  });

  it('send_email as a reply joins the thread with In-Reply-To and References', async () => {
    const original = gmail.addMessage({
      from: 'ana@example.com',
      to: ['me@example.com'],
      subject: 'Re: Offsite',
      text: 'Friday?',
      messageIdHeader: '<o-1@x>',
    });
    const sent = gmail.messages.get((await call('send_email', { body: 'Friday works.', replyToMessageId: original.id })).json().messageId)!;
    expect(sent.threadId).toBe(original.threadId);
    expect(headerValue(sent, 'To')).toBe('ana@example.com');
    expect(headerValue(sent, 'Subject')).toBe('Re: Offsite');
    expect(headerValue(sent, 'In-Reply-To')).toBe('<o-1@x>');
    expect(headerValue(sent, 'References')).toBe('<o-1@x>');
  });

  it('a line break in the subject adds no header; one in an address is refused', async () => {
    const result = await call('send_email', { to: ['bo@example.com'], subject: 'Hello\r\nBcc: evil@example.com', body: 'hi' });
    expect(result.isError).toBe(false);
    const sent = gmail.messages.get(result.json().messageId)!;
    expect(sentHeaders(sent).filter((line) => /^bcc:/i.test(line))).toEqual([]);
    expect(sent.raw).not.toMatch(/\r\nBcc:/i);

    const smuggled = await call('send_email', { to: ['bo@example.com\r\nBcc: evil@example.com'], subject: 'x', body: 'hi' });
    expect(smuggled.isError).toBe(true);
    expect([...gmail.messages.values()].filter((m) => m.labelIds.includes('SENT'))).toHaveLength(1);
  });

  it('modify_labels adds and removes labels; an unknown label is Gmail’s clear refusal', async () => {
    const message = gmail.addMessage({ from: 'a@example.com', to: ['me@example.com'], subject: 'Star me', text: 'x' });
    const changed = (
      await call('modify_labels', { messageId: message.id, addLabelIds: ['STARRED', 'Label_1'], removeLabelIds: ['UNREAD'] })
    ).json();
    expect(changed.labelIds.sort()).toEqual(['INBOX', 'Label_1', 'STARRED']);
    expect(gmail.messages.get(message.id)!.labelIds.sort()).toEqual(['INBOX', 'Label_1', 'STARRED']);

    const unknown = await call('modify_labels', { messageId: message.id, addLabelIds: ['Label_99'] });
    expect(unknown.isError).toBe(true);
    expect(unknown.text).toContain('Invalid label: Label_99');
  });

  it('archive_message takes a message out of the inbox', async () => {
    const message = gmail.addMessage({ from: 'a@example.com', to: ['me@example.com'], subject: 'Done', text: 'x' });
    const result = (await call('archive_message', { messageId: message.id })).json();
    expect(result.labelIds).toEqual(['UNREAD']);
    expect(gmail.messages.get(message.id)!.labelIds).toEqual(['UNREAD']);
    expect(gmail.requests.at(-1)).toMatchObject({
      path: `/gmail/v1/users/me/messages/${message.id}/modify`,
      body: { removeLabelIds: ['INBOX'] },
    });
  });
});

describe('the Gmail server when Gmail refuses', () => {
  it('renews an expired token once and retries with the new one', async () => {
    gmail.tokens.delete('token-1');
    const result = await call('list_labels');
    expect(result.isError).toBe(false);
    expect(renewals).toEqual(['token-1']);
    expect(gmail.requests.map((r) => r.token)).toEqual(['token-1', 'token-2']);
  });

  it('a token that cannot be renewed (revoked) is a tool error asking to connect again', async () => {
    gmail.tokens.delete('token-1');
    renew = () => undefined;
    const result = await call('list_labels');
    expect(result.isError).toBe(true);
    expect(result.text).toContain('refused the connection');
    expect(result.text).toContain('Connect Gmail again');
  });

  it('429 is a tool error that says when to try again', async () => {
    gmail.failNext('rate-limited');
    const result = await call('list_unread');
    expect(result.isError).toBe(true);
    expect(result.text).toContain('HTTP 429');
    expect(result.text).toContain('Try again in 17 s');
  });

  it('403 for a missing scope is a tool error that names the permission', async () => {
    gmail.failNext('forbidden');
    const result = await call('send_email', { to: ['bo@example.com'], subject: 'x', body: 'y' });
    expect(result.isError).toBe(true);
    expect(result.text).toContain('insufficient authentication scopes');
    expect(result.text).toContain('scope');
  });

  it('404, 500 and an answer that is not JSON are clear tool errors', async () => {
    const missing = await call('get_message', { messageId: 'nope' });
    expect(missing.isError).toBe(true);
    expect(missing.text).toContain('found no such item');

    gmail.failNext('error');
    const failed = await call('get_thread', { threadId: 'abc' });
    expect(failed).toMatchObject({ isError: true });
    expect(failed.text).toContain('HTTP 500');

    gmail.failNext('garbage');
    const garbage = await call('search_messages', { query: 'x' });
    expect(garbage.isError).toBe(true);
    expect(garbage.text).toContain('not JSON');
  });
});
