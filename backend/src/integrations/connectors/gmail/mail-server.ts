import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { toolRegistrar, type ToolSetOptions } from '../tool-set.ts';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ProviderError } from '../provider-api.ts';
import type { MailMessage, Mailbox, MessageSummary, OutgoingMail } from './mailbox.ts';

/** Body characters a model sees of one message, and of each message in a thread. */
export const messageBodyChars = 8_000;
export const threadBodyChars = 2_000;
/** Messages of a thread in one answer. */
export const threadPageSize = 10;

const messageId = z.string().min(1).max(256).describe('A message id, as search_messages or list_unread gave it.');
const address = z
  .string()
  .min(3)
  .max(320)
  .refine((value) => !/[\r\n]/.test(value), 'An address cannot contain a line break.');
const addresses = z.array(address).max(50);
const pageToken = z.string().min(1).max(512).optional().describe('The nextPageToken of the previous answer, for the next page.');
const maxResults = z.number().int().min(1).max(50).default(10).describe('At most this many messages (1 to 50, default 10).');
const labelIds = z.array(z.string().min(1).max(256)).max(20);

const outgoing = {
  cc: addresses.optional().describe('Copy recipients.'),
  bcc: addresses.optional().describe('Blind copy recipients.'),
  body: z.string().max(100_000).describe('The message, as plain text.'),
  replyToMessageId: messageId
    .optional()
    .describe('The message this answers: the mail joins its thread; `to` and `subject` default to the sender and "Re: <subject>".'),
};
const notIdempotent = 'Gmail takes no idempotency key: calling this again sends the mail again.';

/**
 * The mail tools as an MCP server over any `Mailbox`: Gmail through `gmailServer`, the sandbox's
 * mailbox through the same code. Every tool declares truthful annotations, pages through long
 * answers (the next page token is in the result), keeps its answer compact for a model (JSON, long
 * bodies cut with a note) and answers a provider's refusal as a tool error (`isError`) carrying the
 * provider's reason, never as a protocol error.
 */
export function mailServer(mailbox: Mailbox, info: { name: string; version: string }): McpServer {
  const server = new McpServer(info);
  registerMailTools(server, mailbox);
  return server;
}

/** The mail tools on a given server, named with `options.prefix` (the sandbox's server holds them beside others). */
export function registerMailTools(server: McpServer, mailbox: Mailbox, options: ToolSetOptions = {}): void {
  const register = toolRegistrar(server, options);

  register(
    'search_messages',
    {
      title: 'Search mail',
      description:
        'Searches the mailbox with Gmail search syntax (e.g. `from:ana@example.com subject:invoice newer_than:7d`, `is:unread in:inbox`, plain words), newest first. Answers summaries (sender, recipients, subject, date, snippet, labels) and a nextPageToken when more match.',
      inputSchema: {
        query: z.string().max(2_000).optional().describe('Gmail search syntax; empty or absent matches everything.'),
        labelIds: labelIds.optional().describe('Only messages carrying all these label ids (see list_labels).'),
        pageToken,
        maxResults,
      },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    ({ query, labelIds: labels, pageToken: token, maxResults: max }) =>
      answer(async () => page(await mailbox.search({ query, labelIds: labels, pageToken: token, maxResults: max }))),
  );

  register(
    'list_unread',
    {
      title: 'List unread mail',
      description:
        'Lists unread messages in the inbox, newest first, optionally only those newer than a period (`1d`, `3d`, `2m` for months, `1y`). Answers summaries and a nextPageToken when more remain.',
      inputSchema: {
        newerThan: z
          .string()
          .regex(/^[1-9][0-9]{0,3}[dmy]$/, 'A period such as 1d, 3d, 2m (months) or 1y.')
          .optional()
          .describe('Only messages newer than this: a number and d (days), m (months) or y (years).'),
        pageToken,
        maxResults,
      },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    ({ newerThan, pageToken: token, maxResults: max }) =>
      answer(async () =>
        page(
          await mailbox.search({
            query: newerThan ? `newer_than:${newerThan}` : undefined,
            labelIds: ['INBOX', 'UNREAD'],
            pageToken: token,
            maxResults: max,
          }),
        ),
      ),
  );

  register(
    'get_message',
    {
      title: 'Read a message',
      description: `Reads one message: headers, labels, attachment names and its body as plain text (HTML mail stripped of markup; bodies past ${messageBodyChars} characters are cut, with a note).`,
      inputSchema: { messageId },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    ({ messageId: id }) => answer(async () => full(await mailbox.getMessage(id), messageBodyChars)),
  );

  register(
    'get_thread',
    {
      title: 'Read a conversation',
      description: `Reads a conversation's messages, oldest first, ${threadPageSize} per page (each body cut at ${threadBodyChars} characters; get_message reads one in full). Answers a nextPageToken when more remain.`,
      inputSchema: {
        threadId: z.string().min(1).max(256).describe('A thread id, as a message summary gave it.'),
        pageToken: z
          .string()
          .regex(/^[0-9]{1,4}$/, 'Pass back the nextPageToken of the previous answer.')
          .optional()
          .describe('The nextPageToken of the previous answer, for the next page.'),
      },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    ({ threadId, pageToken: token }) =>
      answer(async () => {
        const thread = await mailbox.getThread(threadId);
        const from = token ? Number(token) : 0;
        const shown = thread.messages.slice(from, from + threadPageSize);
        const next = from + threadPageSize < thread.messages.length ? String(from + threadPageSize) : undefined;
        return {
          id: thread.id,
          messageCount: thread.messages.length,
          messages: shown.map((message) => full(message, threadBodyChars)),
          ...(next ? { nextPageToken: next } : {}),
        };
      }),
  );

  register(
    'list_labels',
    {
      title: 'List labels',
      description:
        'Lists the mailbox labels (system ones such as INBOX, UNREAD, STARRED, IMPORTANT, and the user’s own) with the ids the other tools take.',
      inputSchema: {},
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    () => answer(async () => ({ labels: await mailbox.listLabels() })),
  );

  register(
    'create_draft',
    {
      title: 'Create a draft',
      description:
        'Saves a draft (not sent) for the user to review, or to send later with send_draft. With replyToMessageId the draft is a reply in that conversation. Each call saves a new draft.',
      inputSchema: {
        to: addresses.optional().describe('Recipients, e.g. "Ana Lima <ana@example.com>"; defaults to the sender when replying.'),
        subject: z.string().max(1_000).optional().describe('The subject; defaults to "Re: <subject>" when replying.'),
        ...outgoing,
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    (input) => answer(async () => mailbox.createDraft(await resolve(mailbox, input))),
  );

  register(
    'send_draft',
    {
      title: 'Send a draft',
      description: `Sends a saved draft to its recipients; it leaves the drafts. ${notIdempotent}`,
      inputSchema: { draftId: z.string().min(1).max(256).describe('The draftId create_draft answered.') },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    ({ draftId }) => answer(() => mailbox.sendDraft(draftId)),
  );

  register(
    'send_email',
    {
      title: 'Send an email',
      description: `Sends an email at once (plain text). With replyToMessageId it is a reply in that conversation. ${notIdempotent} Prefer create_draft when the user should review it first.`,
      inputSchema: {
        to: addresses.optional().describe('Recipients, e.g. "Ana Lima <ana@example.com>"; defaults to the sender when replying.'),
        subject: z.string().max(1_000).optional().describe('The subject; defaults to "Re: <subject>" when replying.'),
        ...outgoing,
      },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    (input) => answer(async () => mailbox.send(await resolve(mailbox, input))),
  );

  register(
    'modify_labels',
    {
      title: 'Change labels',
      description:
        'Adds and removes labels on a message, by label id (see list_labels): e.g. remove UNREAD to mark it read, add STARRED to star it. Answers the labels it has after.',
      inputSchema: {
        messageId,
        addLabelIds: labelIds.default([]).describe('Label ids to add.'),
        removeLabelIds: labelIds.default([]).describe('Label ids to remove.'),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    ({ messageId: id, addLabelIds, removeLabelIds }) =>
      answer(() => mailbox.modifyLabels(id, { add: addLabelIds, remove: removeLabelIds })),
  );

  register(
    'archive_message',
    {
      title: 'Archive a message',
      description: 'Archives a message: it leaves the inbox (the INBOX label is removed) and stays searchable under All Mail.',
      inputSchema: { messageId },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    ({ messageId: id }) => answer(() => mailbox.modifyLabels(id, { add: [], remove: ['INBOX'] })),
  );
}

/** The tool's answer as compact JSON, or the provider's refusal as a tool error. */
async function answer(run: () => Promise<unknown>): Promise<CallToolResult> {
  try {
    return { content: [{ type: 'text', text: JSON.stringify(await run()) }] };
  } catch (error) {
    const refused =
      error instanceof ProviderError || error instanceof MailInputError || (error as { code?: string }).code === 'OUTBOUND_REFUSED';
    if (!refused) throw error;
    return { isError: true, content: [{ type: 'text', text: (error as Error).message }] };
  }
}

function page(result: { messages: MessageSummary[]; nextPageToken?: string | undefined; resultSizeEstimate?: number | undefined }) {
  return {
    messages: result.messages.map(summary),
    ...(result.nextPageToken ? { nextPageToken: result.nextPageToken } : {}),
    ...(result.resultSizeEstimate !== undefined ? { resultSizeEstimate: result.resultSizeEstimate } : {}),
  };
}

/** A summary without empty fields: fewer tokens for the model. */
function summary(message: MessageSummary) {
  return {
    id: message.id,
    threadId: message.threadId,
    from: message.from,
    to: message.to,
    ...(message.cc.length ? { cc: message.cc } : {}),
    subject: message.subject,
    date: message.date,
    snippet: message.snippet,
    labelIds: message.labelIds,
  };
}

function full(message: MailMessage, maxChars: number) {
  const cut = message.body.length > maxChars;
  const note =
    cut || message.bodyTruncated
      ? `Body cut at ${maxChars} characters${message.bodyTruncated ? ' (the message is longer still)' : ` of ${message.body.length}`}.`
      : undefined;
  return {
    ...summary(message),
    ...(message.replyTo ? { replyTo: message.replyTo } : {}),
    ...(message.attachments.length ? { attachments: message.attachments } : {}),
    body: cut ? message.body.slice(0, maxChars) : message.body,
    ...(note ? { note } : {}),
  };
}

type Draft = Omit<OutgoingMail, 'to' | 'subject'> & { to?: string[] | undefined; subject?: string | undefined };

/** The mail to send: a reply's recipient and subject default from the original. */
async function resolve(mailbox: Mailbox, draft: Draft): Promise<OutgoingMail> {
  let { to, subject } = draft;
  if (draft.replyToMessageId && (!to?.length || subject === undefined)) {
    const original = await mailbox.getMessage(draft.replyToMessageId);
    if (!to?.length) to = [original.replyTo ?? original.from].filter(Boolean);
    subject ??= /^re:/i.test(original.subject) ? original.subject : `Re: ${original.subject}`;
  }
  if (!to?.length) throw new MailInputError('Say whom to write to: give `to`, or `replyToMessageId` to answer a message.');
  return { ...draft, to, subject: subject ?? '' };
}

/** Input the schema lets through but the tool cannot act on: the model reads why and tries again. */
class MailInputError extends Error {}
