/**
 * A team chat workspace as the chat tools see it: channels, their messages and threads, search,
 * and posting. Two adapters implement it: Slack's Web API (`SlackWorkspace`) and the keyless
 * sandbox kept in Agentry's database. The shapes follow Slack's (channel ids, `ts` message ids,
 * threads keyed by their parent's `ts`) so that the same tools and results serve both, but nothing
 * here knows about HTTP, tokens or scopes.
 *
 * Paging is by opaque cursor: an adapter returns `nextCursor` when there is more and accepts it
 * back unchanged. A failure the user can act on (no access, unknown channel, limits) is thrown as
 * a `ProviderError` with a message the model can read.
 */
export interface ChatWorkspace {
  /** Who the connection acts as; `list_mentions` searches for mentions of this user. */
  me(): Promise<ChatIdentity>;
  /** Channels the connection can see, archived ones left out. */
  listChannels(options: { cursor?: string | undefined; limit: number; includePrivate: boolean }): Promise<ChatPage<ChatChannel>>;
  /** A channel's top-level messages, newest first, between `oldest` and `latest` (Slack `ts` values, exclusive). */
  history(options: {
    channel: string;
    oldest?: string | undefined;
    latest?: string | undefined;
    cursor?: string | undefined;
    limit: number;
  }): Promise<ChatPage<ChatMessage>>;
  /** A thread: its parent message first, then the replies, oldest first. */
  replies(options: { channel: string; threadTs: string; cursor?: string | undefined; limit: number }): Promise<ChatPage<ChatMessage>>;
  /** Messages matching a query in Slack's search syntax (words, `in:#channel`, `from:@name`, `<@USERID>`), newest first when `sort` is `timestamp`. */
  search(options: {
    query: string;
    sort: 'score' | 'timestamp';
    cursor?: string | undefined;
    limit: number;
  }): Promise<ChatPage<ChatMessage>>;
  /** Posts a message, in a thread when `threadTs` is given; answers the message as stored. */
  post(options: { channel: string; text: string; threadTs?: string | undefined; broadcast?: boolean | undefined }): Promise<ChatMessage>;
}

export interface ChatIdentity {
  userId: string;
  userName?: string | undefined;
  team?: string | undefined;
}

export interface ChatChannel {
  id: string;
  name: string;
  topic: string;
  isPrivate: boolean;
  memberCount?: number | undefined;
}

export interface ChatMessage {
  /** The message's id within its channel (Slack's `ts`, e.g. `1712345678.000100`). */
  ts: string;
  /** The channel's id. */
  channel: string;
  channelName?: string | undefined;
  userId?: string | undefined;
  userName?: string | undefined;
  text: string;
  /** The thread's parent `ts` when the message is in a thread (equal to `ts` for the parent itself). */
  threadTs?: string | undefined;
  replyCount?: number | undefined;
  permalink?: string | undefined;
}

export interface ChatPage<T> {
  items: T[];
  /** Pass back to get the next page; absent on the last page. */
  nextCursor?: string | undefined;
}
