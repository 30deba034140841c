import { z } from 'zod';
import { ProviderError, type ProviderApi } from '../provider-api.ts';
import { callSlack } from './slack-api.ts';
import type { ChatChannel, ChatIdentity, ChatMessage, ChatPage, ChatWorkspace } from './chat-workspace.ts';

/** Names remembered per server instance, so a busy channel does not cost a users.info per message. */
const NAME_CACHE_LIMIT = 1000;
/** users.info lookups one page may cost; the rest of the page keeps ids only. */
const NAME_LOOKUPS_PER_PAGE = 25;

const slackMessage = z.object({
  ts: z.string().max(40),
  user: z.string().max(40).optional(),
  username: z.string().max(200).optional(),
  bot_profile: z.object({ name: z.string().max(200).optional() }).optional(),
  text: z.string().default(''),
  thread_ts: z.string().max(40).optional(),
  reply_count: z.number().int().optional(),
});
const nextCursor = z.object({ next_cursor: z.string().max(1000).optional() }).optional();

/**
 * The chat workspace over Slack's Web API. Channels, history, threads and posting use the bot's
 * token; Slack's search (and so mentions) accepts only a user token with `search:read`, so those
 * need `user` and say what to connect when it is missing.
 */
export class SlackWorkspace implements ChatWorkspace {
  private readonly names = new Map<string, string>();
  private identity: ChatIdentity | undefined;

  constructor(private readonly apis: { bot: ProviderApi; user?: ProviderApi | undefined }) {}

  async me(): Promise<ChatIdentity> {
    if (this.identity) return this.identity;
    const body = await callSlack(
      this.apis.user ?? this.apis.bot,
      'auth.test',
      { user_id: z.string().max(40), user: z.string().max(200).optional(), team: z.string().max(200).optional() },
      { params: {} },
    );
    this.identity = { userId: body.user_id, userName: body.user, team: body.team };
    return this.identity;
  }

  async listChannels(options: { cursor?: string | undefined; limit: number; includePrivate: boolean }): Promise<ChatPage<ChatChannel>> {
    const body = await callSlack(
      this.apis.bot,
      'conversations.list',
      {
        channels: z.array(
          z.object({
            id: z.string().max(40),
            name: z.string().max(200).default(''),
            is_private: z.boolean().default(false),
            topic: z.object({ value: z.string().default('') }).optional(),
            num_members: z.number().int().optional(),
          }),
        ),
        response_metadata: nextCursor,
      },
      {
        params: {
          types: options.includePrivate ? 'public_channel,private_channel' : 'public_channel',
          exclude_archived: true,
          limit: options.limit,
          cursor: options.cursor,
        },
      },
    );
    return {
      items: body.channels.map((c) => ({
        id: c.id,
        name: c.name,
        topic: c.topic?.value ?? '',
        isPrivate: c.is_private,
        memberCount: c.num_members,
      })),
      nextCursor: body.response_metadata?.next_cursor || undefined,
    };
  }

  async history(options: {
    channel: string;
    oldest?: string | undefined;
    latest?: string | undefined;
    cursor?: string | undefined;
    limit: number;
  }): Promise<ChatPage<ChatMessage>> {
    const body = await callSlack(
      this.apis.bot,
      'conversations.history',
      { messages: z.array(slackMessage), response_metadata: nextCursor },
      {
        params: { channel: options.channel, oldest: options.oldest, latest: options.latest, cursor: options.cursor, limit: options.limit },
      },
    );
    return { items: await this.named(options.channel, body.messages), nextCursor: body.response_metadata?.next_cursor || undefined };
  }

  async replies(options: {
    channel: string;
    threadTs: string;
    cursor?: string | undefined;
    limit: number;
  }): Promise<ChatPage<ChatMessage>> {
    const body = await callSlack(
      this.apis.bot,
      'conversations.replies',
      { messages: z.array(slackMessage), response_metadata: nextCursor },
      { params: { channel: options.channel, ts: options.threadTs, cursor: options.cursor, limit: options.limit } },
    );
    return { items: await this.named(options.channel, body.messages), nextCursor: body.response_metadata?.next_cursor || undefined };
  }

  /** Slack's search pages by number, not cursor: the cursor handed out is the next page's number. */
  async search(options: {
    query: string;
    sort: 'score' | 'timestamp';
    cursor?: string | undefined;
    limit: number;
  }): Promise<ChatPage<ChatMessage>> {
    if (!this.apis.user)
      throw new ProviderError(
        "Searching Slack (and finding mentions) needs Slack's user permission search:read, which this connection lacks: connect Slack again on the Integrations page and allow searching messages.",
        403,
      );
    const page = options.cursor === undefined ? 1 : Number(options.cursor);
    if (!Number.isInteger(page) || page < 1 || page > 100) throw new ProviderError('That cursor is not one search_messages gave out.', 400);
    const body = await callSlack(
      this.apis.user,
      'search.messages',
      {
        messages: z.object({
          matches: z.array(
            slackMessage.extend({
              channel: z.object({ id: z.string().max(40), name: z.string().max(200).optional() }),
              permalink: z.string().max(2000).optional(),
            }),
          ),
          paging: z.object({ page: z.number().int(), pages: z.number().int() }).optional(),
        }),
      },
      { params: { query: options.query, sort: options.sort, sort_dir: 'desc', count: options.limit, page } },
    );
    const { matches, paging } = body.messages;
    const items = matches.map((m) => ({
      ...toMessage(m.channel.id, m),
      channelName: m.channel.name,
      userName: m.username || undefined,
      permalink: m.permalink,
    }));
    return { items, nextCursor: paging && paging.page < Math.min(paging.pages, 100) ? String(paging.page + 1) : undefined };
  }

  async post(options: {
    channel: string;
    text: string;
    threadTs?: string | undefined;
    broadcast?: boolean | undefined;
  }): Promise<ChatMessage> {
    const body = await callSlack(
      this.apis.bot,
      'chat.postMessage',
      { channel: z.string().max(40), ts: z.string().max(40), message: slackMessage.optional() },
      {
        write: true,
        params: {
          channel: options.channel,
          text: options.text,
          thread_ts: options.threadTs,
          reply_broadcast: options.threadTs ? options.broadcast : undefined,
        },
      },
    );
    const message = body.message ?? { ts: body.ts, text: options.text, thread_ts: options.threadTs };
    return { ...toMessage(body.channel, message), ts: body.ts };
  }

  /** Messages with their authors' names, looked up (and remembered) where Slack gave only an id. */
  private async named(channel: string, messages: z.infer<typeof slackMessage>[]): Promise<ChatMessage[]> {
    const unknown = [...new Set(messages.map((m) => m.user).filter((id): id is string => !!id && !this.names.has(id)))];
    await Promise.all(unknown.slice(0, NAME_LOOKUPS_PER_PAGE).map((id) => this.lookUpName(id)));
    return messages.map((m) => ({
      ...toMessage(channel, m),
      userName: (m.user && this.names.get(m.user)) || m.username || m.bot_profile?.name,
    }));
  }

  /** A name that cannot be looked up (no `users:read`, a deleted user) is left out rather than failing the read. */
  private async lookUpName(id: string): Promise<void> {
    try {
      const { user } = await callSlack(
        this.apis.bot,
        'users.info',
        {
          user: z.object({
            name: z.string().max(200).default(''),
            real_name: z.string().max(200).optional(),
            profile: z.object({ display_name: z.string().max(200).optional(), real_name: z.string().max(200).optional() }).optional(),
          }),
        },
        { params: { user: id } },
      );
      const name = user.profile?.display_name || user.profile?.real_name || user.real_name || user.name;
      if (!name) return;
      if (this.names.size >= NAME_CACHE_LIMIT) this.names.delete(this.names.keys().next().value as string);
      this.names.set(id, name);
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error;
    }
  }
}

function toMessage(channel: string, m: z.infer<typeof slackMessage>): ChatMessage {
  return { ts: m.ts, channel, userId: m.user || undefined, text: m.text, threadTs: m.thread_ts, replyCount: m.reply_count };
}
