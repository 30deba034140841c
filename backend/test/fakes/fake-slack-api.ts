import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Slack's Web API on 127.0.0.1, written from Slack's method reference: `POST|GET /api/<method>`
 * with arguments in the query, a form body or a JSON body; the token as a bearer header (or a
 * `token` argument); answers `{ ok: true, ... }` with `response_metadata.next_cursor` for cursor
 * paging, and `{ ok: false, error, needed?, provided? }` with HTTP 200 for every refusal, except
 * rate limits (HTTP 429 with Retry-After). Each token carries scopes; search.messages takes only a
 * user token. State is an in-memory workspace the test seeds and inspects.
 */
export interface FakeSlackApi {
  /** The base URL to give the connector (`…/api`). */
  url: string;
  team: { id: string; name: string };
  users: Map<string, { id: string; name: string; real_name: string; display_name: string }>;
  channels: Map<string, FakeChannel>;
  botUserId: string;
  /** The installing user, whom user tokens act for. */
  userId: string;
  /** Every call: method, HTTP method, arguments and the token used. */
  requests: { method: string; httpMethod: string; args: Record<string, unknown>; token: string | undefined }[];
  /** A new token of a kind with the given scopes (default: everything the connector asks for). */
  issueToken(kind: 'bot' | 'user', scopes?: string[]): string;
  /** The token stops working with `invalid_auth`, as an expired rotating token does. */
  expire(token: string): void;
  /** The workspace removed the app: bot tokens answer `account_inactive`, user tokens `token_revoked`. */
  uninstall(): void;
  /** The next call answers this instead of doing its work. */
  failNext(failure: { error: string } | { status: 429; retryAfter: number } | { status: 500 } | { garbage: true }): void;
  addChannel(channel: { name: string; topic?: string; isPrivate?: boolean; botIsMember?: boolean }): FakeChannel;
  /** A message as a user posted it (top level, or a reply when `threadTs` is given); answers its ts. */
  addMessage(channelId: string, message: { user: string; text: string; threadTs?: string }): string;
  close(): Promise<void>;
}

export interface FakeChannel {
  id: string;
  name: string;
  topic: string;
  isPrivate: boolean;
  isArchived: boolean;
  members: Set<string>;
  /** Oldest first; replies carry their parent's `thread_ts`. */
  messages: { ts: string; user: string; text: string; thread_ts?: string; reply_broadcast?: boolean }[];
}

const BOT_SCOPES = ['channels:read', 'groups:read', 'channels:history', 'groups:history', 'chat:write', 'users:read'];
const USER_SCOPES = ['search:read'];

export async function startFakeSlackApi(): Promise<FakeSlackApi> {
  const tokens = new Map<string, { kind: 'bot' | 'user'; scopes: Set<string>; state: 'ok' | 'expired' }>();
  let uninstalled = false;
  const failures: Parameters<FakeSlackApi['failNext']>[0][] = [];
  let clock = 1_712_000_000;
  let sequence = 0;
  const nextTs = () => `${clock++}.${String(++sequence).padStart(6, '0')}`;

  const fake: Omit<FakeSlackApi, 'url' | 'close'> = {
    team: { id: 'T0AGENTRY', name: 'Agentry Test' },
    users: new Map(),
    channels: new Map(),
    botUserId: 'U0AGENTBOT',
    userId: 'U0ALICE01',
    requests: [],
    issueToken(kind, scopes) {
      const token = `xox${kind === 'bot' ? 'b' : 'p'}-${randomBytes(8).toString('hex')}`;
      tokens.set(token, { kind, scopes: new Set(scopes ?? (kind === 'bot' ? BOT_SCOPES : USER_SCOPES)), state: 'ok' });
      return token;
    },
    expire: (token) => void (tokens.get(token)!.state = 'expired'),
    uninstall: () => void (uninstalled = true),
    failNext: (failure) => void failures.push(failure),
    addChannel({ name, topic = '', isPrivate = false, botIsMember = true }) {
      const id = `${isPrivate ? 'G' : 'C'}0${String(fake.channels.size + 1).padStart(8, '0')}`;
      const members = new Set([fake.userId, ...(botIsMember ? [fake.botUserId] : [])]);
      const channel: FakeChannel = { id, name, topic, isPrivate, isArchived: false, members, messages: [] };
      fake.channels.set(id, channel);
      return channel;
    },
    addMessage(channelId, { user, text, threadTs }) {
      const ts = nextTs();
      fake.channels.get(channelId)!.messages.push({ ts, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) });
      return ts;
    },
  };
  fake.users.set(fake.userId, { id: fake.userId, name: 'alice', real_name: 'Alice Martin', display_name: 'Alice' });
  fake.users.set(fake.botUserId, { id: fake.botUserId, name: 'agentry', real_name: 'Agentry', display_name: '' });

  type Args = Record<string, string | undefined>;
  type Caller = { kind: 'bot' | 'user'; scopes: Set<string>; userId: string };
  const scope = (caller: Caller, ...needed: string[]) => {
    const missing = needed.find((s) => !caller.scopes.has(s));
    if (missing) throw refusal('missing_scope', { needed: missing, provided: [...caller.scopes].join(',') });
  };
  const channelFor = (caller: Caller, args: Args, write = false) => {
    const channel = fake.channels.get(args.channel ?? '') ?? [...fake.channels.values()].find((c) => `#${c.name}` === args.channel);
    if (!channel || (channel.isPrivate && !channel.members.has(caller.userId))) throw refusal('channel_not_found');
    scope(caller, write ? 'chat:write' : channel.isPrivate ? 'groups:history' : 'channels:history');
    if (!channel.members.has(caller.userId)) throw refusal('not_in_channel');
    return channel;
  };
  const page = <T>(items: T[], args: Args, max: number) => {
    const offset = args.cursor ? Number(Buffer.from(args.cursor, 'base64').toString().replace('offset:', '')) : 0;
    const limit = Math.min(Number(args.limit ?? 100) || 100, max);
    const slice = items.slice(offset, offset + limit);
    const more = offset + limit < items.length;
    return { slice, more, meta: { next_cursor: more ? Buffer.from(`offset:${offset + limit}`).toString('base64') : '' } };
  };
  const name = (id: string) => fake.users.get(id)?.name ?? '';
  const replyCount = (c: FakeChannel, ts: string) => c.messages.filter((m) => m.thread_ts === ts && m.ts !== ts).length;
  const messageOut = (c: FakeChannel, m: FakeChannel['messages'][number]) => {
    const replies = replyCount(c, m.ts);
    return {
      type: 'message',
      user: m.user,
      text: m.text,
      ts: m.ts,
      ...(m.thread_ts ? { thread_ts: m.thread_ts } : replies ? { thread_ts: m.ts, reply_count: replies } : {}),
    };
  };

  const methods: Record<string, (caller: Caller, args: Args) => object> = {
    'auth.test': (caller) => ({
      url: 'https://agentry-test.slack.com/',
      team: fake.team.name,
      user: name(caller.userId),
      team_id: fake.team.id,
      user_id: caller.userId,
    }),
    'conversations.list': (caller, args) => {
      const types = (args.types ?? 'public_channel').split(',');
      scope(caller, 'channels:read', ...(types.includes('private_channel') ? ['groups:read'] : []));
      const visible = [...fake.channels.values()].filter(
        (c) =>
          types.includes(c.isPrivate ? 'private_channel' : 'public_channel') &&
          (!c.isPrivate || c.members.has(caller.userId)) &&
          !(args.exclude_archived === 'true' && c.isArchived),
      );
      const { slice, meta } = page(visible, args, 1000);
      const channels = slice.map((c) => ({
        id: c.id,
        name: c.name,
        is_channel: !c.isPrivate,
        is_private: c.isPrivate,
        is_archived: c.isArchived,
        is_member: c.members.has(caller.userId),
        topic: { value: c.topic, creator: '', last_set: 0 },
        purpose: { value: '', creator: '', last_set: 0 },
        num_members: c.members.size,
      }));
      return { channels, response_metadata: meta };
    },
    'conversations.history': (caller, args) => {
      const channel = channelFor(caller, args);
      const inside = (ts: string) =>
        (!args.oldest || Number(ts) > Number(args.oldest)) && (!args.latest || Number(ts) < Number(args.latest));
      const top = channel.messages.filter((m) => (!m.thread_ts || m.reply_broadcast) && inside(m.ts)).reverse();
      const { slice, more, meta } = page(top, args, 999);
      return { messages: slice.map((m) => messageOut(channel, m)), has_more: more, pin_count: 0, response_metadata: meta };
    },
    'conversations.replies': (caller, args) => {
      const channel = channelFor(caller, args);
      const parent = channel.messages.find((m) => m.ts === args.ts);
      if (!parent) throw refusal('thread_not_found');
      const thread = [parent, ...channel.messages.filter((m) => m.thread_ts === args.ts && m.ts !== args.ts)];
      const { slice, more, meta } = page(thread, args, 1000);
      return { messages: slice.map((m) => messageOut(channel, m)), has_more: more, response_metadata: meta };
    },
    'search.messages': (caller, args) => {
      if (caller.kind !== 'user') throw refusal('not_allowed_token_type');
      scope(caller, 'search:read');
      if (!args.query) throw refusal('no_query');
      const words = args.query.toLowerCase().split(/\s+/).filter(Boolean);
      const matches = [...fake.channels.values()]
        .filter((c) => c.members.has(caller.userId))
        .flatMap((c) => c.messages.filter((m) => words.every((w) => m.text.toLowerCase().includes(w))).map((m) => ({ c, m })))
        .sort((a, b) => Number(b.m.ts) - Number(a.m.ts));
      const count = Math.min(Number(args.count ?? 20) || 20, 100);
      const current = Number(args.page ?? 1) || 1;
      const pages = Math.max(1, Math.ceil(matches.length / count));
      const slice = matches.slice((current - 1) * count, current * count).map(({ c, m }) => ({
        iid: randomBytes(8).toString('hex'),
        team: fake.team.id,
        channel: { id: c.id, name: c.name, is_private: c.isPrivate },
        type: 'message',
        user: m.user,
        username: name(m.user),
        ts: m.ts,
        text: m.text,
        permalink: `https://agentry-test.slack.com/archives/${c.id}/p${m.ts.replace('.', '')}`,
      }));
      const paging = { count, total: matches.length, page: current, pages };
      return {
        query: args.query,
        messages: {
          total: matches.length,
          paging,
          pagination: { total_count: matches.length, page: current, per_page: count, page_count: pages },
          matches: slice,
        },
      };
    },
    'chat.postMessage': (caller, args) => {
      const channel = channelFor(caller, args, true);
      if (channel.isArchived) throw refusal('is_archived');
      if (!args.text) throw refusal('no_text');
      if (args.thread_ts && !channel.messages.some((m) => m.ts === args.thread_ts)) throw refusal('thread_not_found');
      const stored = {
        ts: nextTs(),
        user: caller.userId,
        text: args.text,
        ...(args.thread_ts ? { thread_ts: args.thread_ts, reply_broadcast: args.reply_broadcast === 'true' } : {}),
      };
      channel.messages.push(stored);
      return { channel: channel.id, ts: stored.ts, message: { ...messageOut(channel, stored), bot_id: 'B0AGENTRY' } };
    },
    'users.info': (caller, args) => {
      scope(caller, 'users:read');
      const user = fake.users.get(args.user ?? '');
      if (!user) throw refusal('user_not_found');
      return {
        user: {
          id: user.id,
          team_id: fake.team.id,
          name: user.name,
          real_name: user.real_name,
          profile: { display_name: user.display_name, real_name: user.real_name },
        },
      };
    },
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = url.pathname.replace(/^\/api\//, '');
      const args: Args = Object.fromEntries(url.searchParams);
      const raw = Buffer.concat(chunks).toString('utf8');
      const type = req.headers['content-type'] ?? '';
      if (raw && type.startsWith('application/json')) {
        for (const [key, value] of Object.entries(JSON.parse(raw) as Record<string, unknown>))
          if (value !== undefined && value !== null) args[key] = typeof value === 'string' ? value : JSON.stringify(value);
      } else if (raw) Object.assign(args, Object.fromEntries(new URLSearchParams(raw)));
      const token = req.headers.authorization?.replace(/^Bearer /, '') ?? args.token;
      fake.requests.push({ method, httpMethod: req.method ?? '', args: { ...args }, token });
      const json = (status: number, body: object, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(body));
      };
      const failure = failures.shift();
      if (failure && 'garbage' in failure) {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<html><body>Slack is having a moment</body></html>');
      }
      if (failure && 'status' in failure && failure.status === 429)
        return json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(failure.retryAfter) });
      if (failure && 'status' in failure) return json(500, { ok: false, error: 'internal_error' });
      if (failure) return json(200, { ok: false, error: failure.error });
      const handler = methods[method];
      if (!handler) return json(404, { ok: false, error: 'unknown_method' });
      const held = token ? tokens.get(token) : undefined;
      if (!token) return json(200, { ok: false, error: 'not_authed' });
      if (!held) return json(200, { ok: false, error: 'invalid_auth' });
      if (uninstalled) return json(200, { ok: false, error: held.kind === 'bot' ? 'account_inactive' : 'token_revoked' });
      if (held.state === 'expired') return json(200, { ok: false, error: 'invalid_auth' });
      try {
        return json(200, {
          ok: true,
          ...handler({ kind: held.kind, scopes: held.scopes, userId: held.kind === 'bot' ? fake.botUserId : fake.userId }, args),
        });
      } catch (error) {
        if (error instanceof SlackRefusal) return json(200, { ok: false, error: error.code, ...error.extra });
        throw error;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake, {
    url: `http://127.0.0.1:${port}/api`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

class SlackRefusal extends Error {
  constructor(
    readonly code: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(code);
  }
}

const refusal = (code: string, extra?: Record<string, string>) => new SlackRefusal(code, extra);
