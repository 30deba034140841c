import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { toolRegistrar, type ToolSetOptions } from '../tool-set.ts';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ProviderError } from '../provider-api.ts';
import type { ChatChannel, ChatMessage, ChatPage, ChatWorkspace } from './chat-workspace.ts';

/** A message's text past this many characters is cut, with a note, so one paste cannot flood the model's context. */
const TEXT_LIMIT = 2000;
/** Pages of channels a `#name` is looked for in before giving up. */
const NAME_PAGES = 10;

const READ: ToolAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true };
/** Posting adds a message and takes away nothing; Slack has no idempotency key for it, so a retry posts twice. */
const POST: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true };

const channelRef = z.string().min(1).max(200).describe('The channel: its id (C0123ABCD, from list_channels) or its name as #name.');
const cursor = z.string().max(1000).optional().describe('The next_cursor of the previous call, for the next page.');
const time = (what: string) =>
  z.string().max(40).optional().describe(`${what}: a Slack ts (1712345678.000100) or an ISO 8601 time (2025-04-05T09:00:00Z).`);

/**
 * The chat tools as an MCP server over any `ChatWorkspace`: Slack's Web API or the sandbox. Tool
 * names, inputs, annotations and result shapes are the contract templates rely on (`slack__<name>`);
 * results are compact JSON text with the next page's cursor, and a `ProviderError` is answered as
 * a tool error with its message, so a refused call never crashes the turn.
 */
export function chatServer(workspace: ChatWorkspace, info: { name: string; version: string }): McpServer {
  const server = new McpServer(info);
  registerChatTools(server, workspace);
  return server;
}

/** The chat tools on a given server, named with `options.prefix` (the sandbox's server holds them beside others). */
export function registerChatTools(server: McpServer, workspace: ChatWorkspace, options: ToolSetOptions = {}): void {
  const register = toolRegistrar(server, options);
  const channelId = (ref: string) => resolveChannel(workspace, ref);

  register(
    'list_channels',
    {
      title: 'List channels',
      description: 'Lists the workspace channels the connection can see (archived ones left out), with id, name, topic and member count.',
      inputSchema: {
        include_private: z.boolean().default(false).describe('Also list private channels the app is in.'),
        limit: z.number().int().min(1).max(200).default(100),
        cursor,
      },
      annotations: { title: 'List channels', ...READ },
    },
    (input) =>
      answer(async () => {
        const page = await workspace.listChannels({ cursor: input.cursor, limit: input.limit, includePrivate: input.include_private });
        return { channels: page.items.map(channelOut), next_cursor: page.nextCursor };
      }),
  );

  register(
    'get_channel_history',
    {
      title: 'Read channel history',
      description:
        "Reads a channel's messages, newest first, optionally from a time on. Threads show their reply count: read them with get_thread_replies.",
      inputSchema: {
        channel: channelRef,
        oldest: time('Only messages after this time'),
        latest: time('Only messages before this time'),
        limit: z.number().int().min(1).max(200).default(50),
        cursor,
      },
      annotations: { title: 'Read channel history', ...READ },
    },
    (input) =>
      answer(async () => {
        const channel = await channelId(input.channel);
        const page = await workspace.history({
          channel,
          oldest: slackTime(input.oldest, 'oldest'),
          latest: slackTime(input.latest, 'latest'),
          cursor: input.cursor,
          limit: input.limit,
        });
        return messagesOut(page);
      }),
  );

  register(
    'get_thread_replies',
    {
      title: 'Read a thread',
      description: "Reads a thread: its parent message, then the replies, oldest first. thread_ts is the parent message's ts.",
      inputSchema: {
        channel: channelRef,
        thread_ts: z.string().min(1).max(40).describe("The thread's parent message ts."),
        limit: z.number().int().min(1).max(200).default(50),
        cursor,
      },
      annotations: { title: 'Read a thread', ...READ },
    },
    (input) =>
      answer(async () => {
        const page = await workspace.replies({
          channel: await channelId(input.channel),
          threadTs: input.thread_ts,
          cursor: input.cursor,
          limit: input.limit,
        });
        return messagesOut(page);
      }),
  );

  register(
    'search_messages',
    {
      title: 'Search messages',
      description:
        'Searches messages across the workspace with Slack search syntax (words, "exact phrase", in:#channel, from:@name, after:2025-04-01). Needs the connecting user\'s search permission.',
      inputSchema: {
        query: z.string().min(1).max(500),
        sort: z.enum(['score', 'timestamp']).default('timestamp').describe('timestamp: newest first; score: best match first.'),
        limit: z.number().int().min(1).max(100).default(20),
        cursor,
      },
      annotations: { title: 'Search messages', ...READ },
    },
    (input) =>
      answer(async () =>
        messagesOut(await workspace.search({ query: input.query, sort: input.sort, cursor: input.cursor, limit: input.limit })),
      ),
  );

  register(
    'list_mentions',
    {
      title: 'List my mentions',
      description: 'Lists recent messages that mention the connected user, newest first.',
      inputSchema: { limit: z.number().int().min(1).max(100).default(20), cursor },
      annotations: { title: 'List my mentions', ...READ },
    },
    (input) =>
      answer(async () => {
        const me = await workspace.me();
        const page = await workspace.search({ query: `<@${me.userId}>`, sort: 'timestamp', cursor: input.cursor, limit: input.limit });
        return { user: me.userId, ...messagesOut(page) };
      }),
  );

  register(
    'post_message',
    {
      title: 'Post a message',
      description: 'Posts a message to a channel as the Agentry app. Calling it twice posts twice.',
      inputSchema: { channel: channelRef, text: z.string().min(1).max(40_000).describe('The message, in Slack mrkdwn.') },
      annotations: { title: 'Post a message', ...POST },
    },
    (input) =>
      answer(async () => ({ posted: messageOut(await workspace.post({ channel: await channelId(input.channel), text: input.text })) })),
  );

  register(
    'reply_in_thread',
    {
      title: 'Reply in a thread',
      description: "Replies in a message's thread as the Agentry app. Calling it twice replies twice.",
      inputSchema: {
        channel: channelRef,
        thread_ts: z.string().min(1).max(40).describe("The thread's parent message ts."),
        text: z.string().min(1).max(40_000).describe('The reply, in Slack mrkdwn.'),
        also_send_to_channel: z.boolean().default(false).describe('Also show the reply in the channel itself.'),
      },
      annotations: { title: 'Reply in a thread', ...POST },
    },
    (input) =>
      answer(async () => {
        const posted = await workspace.post({
          channel: await channelId(input.channel),
          text: input.text,
          threadTs: input.thread_ts,
          broadcast: input.also_send_to_channel,
        });
        return { posted: messageOut(posted) };
      }),
  );
}

/** A result as compact JSON text; a provider's refusal as a tool error the model can read and act on. */
async function answer(produce: () => Promise<unknown>): Promise<CallToolResult> {
  try {
    return { content: [{ type: 'text', text: JSON.stringify(await produce()) }] };
  } catch (error) {
    if (error instanceof ProviderError) return { isError: true, content: [{ type: 'text', text: error.message }] };
    throw error;
  }
}

/** A channel id from an id or `#name`; names are looked up among the public channels, page by page. */
async function resolveChannel(workspace: ChatWorkspace, ref: string): Promise<string> {
  const trimmed = ref.trim();
  if (!trimmed.startsWith('#') && /^[CGD][A-Z0-9]{6,30}$/.test(trimmed)) return trimmed;
  const name = trimmed.replace(/^#/, '').toLowerCase();
  let cursor: string | undefined;
  for (let page = 0; page < NAME_PAGES; page++) {
    const channels = await workspace.listChannels({ cursor, limit: 200, includePrivate: false });
    const found = channels.items.find((c) => c.name.toLowerCase() === name);
    if (found) return found.id;
    cursor = channels.nextCursor;
    if (!cursor) break;
  }
  throw new ProviderError(
    `No public channel is named #${name}: use list_channels (include_private for private ones) and pass the channel's id.`,
    404,
  );
}

/** A Slack ts as given, or an ISO 8601 time turned into one. */
function slackTime(value: string | undefined, field: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d{1,12}(\.\d{1,6})?$/.test(value)) return value;
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new ProviderError(`${field} must be a Slack ts (1712345678.000100) or an ISO 8601 time, not "${value}".`, 400);
  return (ms / 1000).toFixed(6);
}

function channelOut(c: ChatChannel) {
  return { id: c.id, name: c.name, topic: c.topic || undefined, is_private: c.isPrivate, members: c.memberCount };
}

function messagesOut(page: ChatPage<ChatMessage>) {
  return { messages: page.items.map(messageOut), next_cursor: page.nextCursor };
}

function messageOut(m: ChatMessage) {
  const cut = m.text.length - TEXT_LIMIT;
  return {
    ts: m.ts,
    channel: m.channel,
    channel_name: m.channelName,
    user: m.userId,
    user_name: m.userName,
    text: cut > 0 ? `${m.text.slice(0, TEXT_LIMIT)} [… ${cut} more characters cut]` : m.text,
    thread_ts: m.threadTs,
    replies: m.replyCount || undefined,
    permalink: m.permalink,
  };
}
