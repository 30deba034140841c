import type { Selectable } from 'kysely';
import type { DatabaseSchema } from '../../../database/index.ts';
import { ProviderError } from '../provider-api.ts';
import type { ChatChannel, ChatIdentity, ChatMessage, ChatPage, ChatWorkspace } from '../slack/index.ts';
import type { SandboxData } from './sandbox-data.ts';
import { appAuthor, channels, sandboxUser, team } from './sandbox-team.ts';

type ChatRow = Selectable<DatabaseSchema['sandbox_chat']>;

const maxQueryChars = 500;
const maxTerms = 20;

/**
 * The sandbox's chat workspace, kept in Agentry's database: Slack's behaviour where the chat
 * tools rely on it (channels with ids and names, a channel's top-level messages newest first with
 * their reply counts, threads keyed by the parent's `ts`, search with words, phrases, `in:`,
 * `from:` and `<@USERID>` mentions, posting as the app), with the user's rows only and a cap.
 */
export class SandboxWorkspace implements ChatWorkspace {
  private ready: Promise<void> | undefined;

  constructor(
    private readonly data: SandboxData,
    private readonly userId: string,
  ) {}

  async me(): Promise<ChatIdentity> {
    return { userId: sandboxUser.chatId, userName: sandboxUser.handle, team: 'Larkspur' };
  }

  async listChannels(options: { cursor?: string | undefined; limit: number; includePrivate: boolean }): Promise<ChatPage<ChatChannel>> {
    return paged(
      channels.filter((c) => options.includePrivate || !c.isPrivate),
      options.cursor,
      options.limit,
    );
  }

  async history(options: {
    channel: string;
    oldest?: string | undefined;
    latest?: string | undefined;
    cursor?: string | undefined;
    limit: number;
  }): Promise<ChatPage<ChatMessage>> {
    const channel = known(options.channel);
    const rows = await this.rows(channel.id);
    const counts = replyCounts(rows);
    const shown = rows
      .filter((row) => !row.thread_ts || row.thread_ts === row.ts || row.message.broadcast)
      .filter((row) => (!options.oldest || row.ts > options.oldest) && (!options.latest || row.ts < options.latest))
      .reverse();
    return paged(
      shown.map((row) => message(row, counts)),
      options.cursor,
      options.limit,
    );
  }

  async replies(options: {
    channel: string;
    threadTs: string;
    cursor?: string | undefined;
    limit: number;
  }): Promise<ChatPage<ChatMessage>> {
    const channel = known(options.channel);
    const rows = await this.rows(channel.id);
    const parent = rows.find((row) => row.ts === options.threadTs);
    if (!parent) throw new ProviderError(`thread_not_found: #${channel.name} has no message ${options.threadTs}.`, 404);
    const counts = replyCounts(rows);
    const thread = [parent, ...rows.filter((row) => row.thread_ts === options.threadTs && row.ts !== options.threadTs)];
    return paged(
      thread.map((row) => message(row, counts)),
      options.cursor,
      options.limit,
    );
  }

  async search(options: {
    query: string;
    sort: 'score' | 'timestamp';
    cursor?: string | undefined;
    limit: number;
  }): Promise<ChatPage<ChatMessage>> {
    const test = searchFilter(options.query);
    const rows = (await this.rows()).filter((row) => test.channel(row.channel) && test.author(row) && test.time(row.ts));
    const scored = rows
      .map((row) => ({ row, score: test.score(row.message.text.toLowerCase()) }))
      .filter((entry) => entry.score > 0)
      .sort((a, b) => (options.sort === 'score' ? b.score - a.score : 0) || (a.row.ts < b.row.ts ? 1 : -1));
    const counts = replyCounts(rows);
    return paged(
      scored.map((entry) => message(entry.row, counts)),
      options.cursor,
      options.limit,
    );
  }

  async post(options: {
    channel: string;
    text: string;
    threadTs?: string | undefined;
    broadcast?: boolean | undefined;
  }): Promise<ChatMessage> {
    const channel = known(options.channel);
    const rows = await this.rows(channel.id);
    if (options.threadTs && !rows.some((row) => row.ts === options.threadTs))
      throw new ProviderError(`thread_not_found: #${channel.name} has no message ${options.threadTs} to reply to.`, 404);
    // A ts is unique in its channel: one posted in the same microsecond as the last goes just after it.
    const last = rows.length ? Number(rows[rows.length - 1]!.ts) : 0;
    const ts = Math.max(this.data.time() / 1000, last + 0.000001).toFixed(6);
    const content = { ...appAuthor, text: options.text, ...(options.threadTs && options.broadcast ? { broadcast: true } : {}) };
    await this.data.database.transaction(async (tx) => {
      await this.data.checkRoom(tx, this.userId, 'chat');
      await tx
        .insertInto('sandbox_chat')
        .values({ user_id: this.userId, channel: channel.id, ts, thread_ts: options.threadTs ?? null, message: content })
        .execute();
    });
    return message({ user_id: this.userId, channel: channel.id, ts, thread_ts: options.threadTs ?? null, message: content }, new Map());
  }

  /** The user's messages, of one channel or all, oldest first. */
  private async rows(channel?: string): Promise<ChatRow[]> {
    this.ready ??= this.data.ensure(this.userId).catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    await this.ready;
    let select = this.data.database.db.selectFrom('sandbox_chat').selectAll().where('user_id', '=', this.userId);
    if (channel) select = select.where('channel', '=', channel);
    return select.orderBy('ts').orderBy('channel').execute();
  }
}

function known(id: string): ChatChannel {
  const channel = channels.find((c) => c.id === id);
  if (!channel) throw new ProviderError(`channel_not_found: the workspace has no channel ${id} (see list_channels).`, 404);
  return channel;
}

function replyCounts(rows: readonly ChatRow[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const row of rows)
    if (row.thread_ts && row.thread_ts !== row.ts)
      counts.set(`${row.channel}/${row.thread_ts}`, (counts.get(`${row.channel}/${row.thread_ts}`) ?? 0) + 1);
  return counts;
}

function message(row: ChatRow, counts: ReadonlyMap<string, number>): ChatMessage {
  const replies = counts.get(`${row.channel}/${row.ts}`);
  return {
    ts: row.ts,
    channel: row.channel,
    channelName: channels.find((c) => c.id === row.channel)?.name,
    userId: row.message.userId,
    userName: row.message.userName,
    text: row.message.text,
    ...(row.thread_ts ? { threadTs: row.thread_ts } : replies ? { threadTs: row.ts } : {}),
    ...(replies ? { replyCount: replies } : {}),
  };
}

/**
 * Slack's search syntax, in part: words and "phrases" (each must occur), `in:#channel`,
 * `from:@handle` (or `from:<@USERID>`), `after:`/`before:`/`on:` a date, and `<@USERID>` mentions
 * as words. One pass over a capped query, so its cost is linear in its bounded size.
 */
function searchFilter(query: string) {
  const terms = (query.slice(0, maxQueryChars).match(/"[^"]*"|\S+/g) ?? []).slice(0, maxTerms);
  const words: string[] = [];
  let channel: string | undefined;
  let author: string | undefined;
  let after = '';
  let before = '~';
  for (const raw of terms) {
    const term = raw.toLowerCase();
    const value = term.slice(term.indexOf(':') + 1).replace(/^[#@]/, '');
    const day = (offset: number) => ((Date.parse(`${value}T00:00:00Z`) + offset) / 1000).toFixed(6);
    if (term.startsWith('in:')) channel = channels.find((c) => c.name === value || c.id.toLowerCase() === value)?.id ?? '-';
    else if (term.startsWith('from:')) author = value.replace(/^<@(.*)>$/, '$1');
    else if (/^(after|before|on):\d{4}-\d\d-\d\d$/.test(term)) {
      if (term.startsWith('after:')) after = day(86_400_000);
      else if (term.startsWith('before:')) before = day(0);
      else [after, before] = [day(0), day(86_400_000)];
    } else if (term.replaceAll('"', '')) words.push(term.replaceAll('"', ''));
  }
  const people = [...Object.values(team), { chatId: appAuthor.userId, handle: appAuthor.userName.toLowerCase() }];
  const authorId = author && (people.find((p) => p.handle === author || p.chatId.toLowerCase() === author)?.chatId ?? '-');
  return {
    channel: (id: string) => !channel || id === channel,
    author: (row: ChatRow) => !authorId || row.message.userId === authorId,
    time: (ts: string) => ts >= after && ts < before,
    /** Occurrences of the words, or 0 when one is missing (a query of operators alone matches all). */
    score: (text: string) => {
      let score = words.length === 0 ? 1 : 0;
      for (const word of words) {
        const found = text.split(word).length - 1;
        if (found === 0) return 0;
        score += found;
      }
      return score;
    },
  };
}

function paged<T>(items: readonly T[], cursor: string | undefined, limit: number): ChatPage<T> {
  if (cursor !== undefined && !/^[0-9]{1,6}$/.test(cursor))
    throw new ProviderError('invalid_cursor: pass back the next_cursor of the last answer.', 400);
  const from = cursor ? Number(cursor) : 0;
  return { items: items.slice(from, from + limit), ...(from + limit < items.length ? { nextCursor: String(from + limit) } : {}) };
}
