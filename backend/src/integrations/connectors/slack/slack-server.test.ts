import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeSlackApi, type FakeChannel, type FakeSlackApi } from '../../../../test/fakes/fake-slack-api.ts';
import { slackApi, slackServer } from './index.ts';

describe('the built-in Slack server against a fake Slack Web API', () => {
  let fake: FakeSlackApi;
  let client: Client | undefined;
  let general: FakeChannel;
  let launch: FakeChannel;
  let random: FakeChannel;
  let leads: FakeChannel;
  let tokens: { bot: string; user: string };
  /** The tokens the connector asked to renew, in order. */
  let renewed: string[];
  const bob = 'U0BOB0001';

  beforeEach(async () => {
    fake = await startFakeSlackApi();
    fake.users.set(bob, { id: bob, name: 'bob', real_name: 'Bob Stone', display_name: 'Bob' });
    general = fake.addChannel({ name: 'general', topic: 'Company-wide news' });
    launch = fake.addChannel({ name: 'launch', topic: 'Shipping v2' });
    random = fake.addChannel({ name: 'random', botIsMember: false });
    leads = fake.addChannel({ name: 'leads', isPrivate: true });
    tokens = { bot: fake.issueToken('bot'), user: fake.issueToken('user') };
    renewed = [];
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await fake.close();
  });

  async function connect(options: { user?: boolean } = {}): Promise<Client> {
    const api = (kind: 'bot' | 'user') =>
      slackApi({
        baseUrl: fake.url,
        fetch: globalThis.fetch,
        token: async (rejected) => {
          if (rejected) {
            renewed.push(rejected);
            tokens[kind] = fake.issueToken(kind);
          }
          return tokens[kind];
        },
        timeoutMs: 5000,
        maxResponseBytes: 1 << 20,
      });
    const server = slackServer({ bot: api('bot'), ...(options.user === false ? {} : { user: api('user') }) });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    client = new Client({ name: 'slack-test', version: '1.0.0' });
    await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
    return client;
  }

  async function call(name: string, args: Record<string, unknown> = {}, options: { user?: boolean } = {}) {
    const result = (await (client ?? (await connect(options))).callTool({ name, arguments: args })) as CallToolResult;
    const text = result.content[0]?.type === 'text' ? result.content[0].text : '';
    return { isError: result.isError === true, text, json: () => JSON.parse(text) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  }

  const calls = (method: string) => fake.requests.filter((r) => r.method === method);

  it('lists its tools with titles and truthful annotations: reads are read-only and idempotent, posting is neither', async () => {
    const { tools } = await (await connect()).listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    const reads = ['list_channels', 'get_channel_history', 'get_thread_replies', 'search_messages', 'list_mentions'];
    const posts = ['post_message', 'reply_in_thread'];
    expect([...byName.keys()].sort()).toEqual([...reads, ...posts].sort());
    for (const name of reads)
      expect(byName.get(name)?.annotations).toMatchObject({
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: true,
      });
    for (const name of posts)
      expect(byName.get(name)?.annotations).toMatchObject({
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      });
    for (const tool of tools) expect(tool.title && tool.description).toBeTruthy();
  });

  it('list_channels pages through public channels with topics and member counts, and adds private ones on request', async () => {
    const first = (await call('list_channels', { limit: 2 })).json();
    expect(first.channels).toEqual([
      { id: general.id, name: 'general', topic: 'Company-wide news', is_private: false, members: 2 },
      { id: launch.id, name: 'launch', topic: 'Shipping v2', is_private: false, members: 2 },
    ]);
    expect(first.next_cursor).toBeTruthy();
    const second = (await call('list_channels', { limit: 2, cursor: first.next_cursor })).json();
    expect(second.channels.map((c: { name: string }) => c.name)).toEqual(['random']);
    expect(second.next_cursor).toBeUndefined();
    expect(calls('conversations.list')[0]).toMatchObject({
      token: tokens.bot,
      args: { types: 'public_channel', exclude_archived: 'true' },
    });

    const all = (await call('list_channels', { include_private: true })).json();
    expect(all.channels.find((c: { name: string }) => c.name === 'leads')).toMatchObject({ id: leads.id, is_private: true });
  });

  it('get_channel_history reads a #channel newest first, with names, reply counts and a time filter, looking each name up once', async () => {
    const early = fake.addMessage(launch.id, { user: bob, text: 'kickoff notes' });
    const parent = fake.addMessage(launch.id, { user: fake.userId, text: 'Ship on Friday?' });
    fake.addMessage(launch.id, { user: bob, text: 'Yes, after QA', threadTs: parent });
    const page = (await call('get_channel_history', { channel: '#launch' })).json();
    expect(page.messages).toEqual([
      { ts: parent, channel: launch.id, user: fake.userId, user_name: 'Alice', text: 'Ship on Friday?', thread_ts: parent, replies: 1 },
      { ts: early, channel: launch.id, user: bob, user_name: 'Bob', text: 'kickoff notes' },
    ]);
    const later = (await call('get_channel_history', { channel: launch.id, oldest: early, limit: 10 })).json();
    expect(later.messages.map((m: { ts: string }) => m.ts)).toEqual([parent]);
    expect(calls('conversations.history').at(-1)?.args).toMatchObject({ channel: launch.id, oldest: early, limit: '10' });
    expect(calls('users.info')).toHaveLength(2);

    const iso = new Date((Number(early) + 0.5) * 1000).toISOString();
    const sinceIso = (await call('get_channel_history', { channel: launch.id, oldest: iso })).json();
    expect(sinceIso.messages.map((m: { ts: string }) => m.ts)).toEqual([parent]);
  });

  it('get_channel_history pages with the cursor Slack gives and caps a long text with a note', async () => {
    for (let i = 0; i < 3; i++) fake.addMessage(general.id, { user: bob, text: `update ${i}` });
    fake.addMessage(general.id, { user: bob, text: 'x'.repeat(5000) });
    const first = (await call('get_channel_history', { channel: general.id, limit: 2 })).json();
    expect(first.messages[0].text).toMatch(/^x{2000} \[… 3000 more characters cut\]$/);
    const second = (await call('get_channel_history', { channel: general.id, limit: 2, cursor: first.next_cursor })).json();
    expect(second.messages.map((m: { text: string }) => m.text)).toEqual(['update 1', 'update 0']);
    expect(second.next_cursor).toBeUndefined();
  });

  it('get_thread_replies reads the parent and its replies in order', async () => {
    const parent = fake.addMessage(launch.id, { user: fake.userId, text: 'Release checklist?' });
    fake.addMessage(launch.id, { user: bob, text: 'Docs done', threadTs: parent });
    fake.addMessage(launch.id, { user: fake.userId, text: 'Thanks', threadTs: parent });
    const thread = (await call('get_thread_replies', { channel: launch.id, thread_ts: parent })).json();
    expect(thread.messages.map((m: { user_name: string; text: string }) => `${m.user_name}: ${m.text}`)).toEqual([
      'Alice: Release checklist?',
      'Bob: Docs done',
      'Alice: Thanks',
    ]);
    expect(calls('conversations.replies')[0]?.args).toMatchObject({ channel: launch.id, ts: parent });
  });

  it("search_messages searches with the user's token, pages by cursor and links each match", async () => {
    const older = fake.addMessage(general.id, { user: bob, text: 'budget review tomorrow' });
    const newer = fake.addMessage(launch.id, { user: fake.userId, text: 'budget approved' });
    const first = (await call('search_messages', { query: 'budget', limit: 1 })).json();
    expect(first.messages).toEqual([
      {
        ts: newer,
        channel: launch.id,
        channel_name: 'launch',
        user: fake.userId,
        user_name: 'alice',
        text: 'budget approved',
        permalink: `https://agentry-test.slack.com/archives/${launch.id}/p${newer.replace('.', '')}`,
      },
    ]);
    const second = (await call('search_messages', { query: 'budget', limit: 1, cursor: first.next_cursor })).json();
    expect(second.messages.map((m: { ts: string }) => m.ts)).toEqual([older]);
    expect(second.next_cursor).toBeUndefined();
    expect(calls('search.messages').map((r) => r.token)).toEqual([tokens.user, tokens.user]);
    expect(calls('search.messages')[1]?.args).toMatchObject({ query: 'budget', sort: 'timestamp', count: '1', page: '2' });
  });

  it('search_messages and list_mentions without a user token say which permission to connect, and call nothing', async () => {
    for (const tool of ['search_messages', 'list_mentions']) {
      const result = await call(tool, tool === 'search_messages' ? { query: 'budget' } : {}, { user: false });
      expect(result.isError).toBe(true);
      expect(result.text).toContain('search:read');
      expect(result.text).toContain('connect Slack again');
    }
    expect(calls('search.messages')).toHaveLength(0);
  });

  it('list_mentions finds messages that mention the connected user', async () => {
    const mention = fake.addMessage(general.id, { user: bob, text: `<@${fake.userId}> can you review the plan?` });
    fake.addMessage(general.id, { user: bob, text: 'no mention here' });
    const result = (await call('list_mentions')).json();
    expect(result.user).toBe(fake.userId);
    expect(result.messages.map((m: { ts: string }) => m.ts)).toEqual([mention]);
    expect(calls('auth.test')[0]?.token).toBe(tokens.user);
    expect(calls('search.messages')[0]?.args.query).toBe(`<@${fake.userId}>`);
  });

  it('post_message posts to the channel as the app with the bot token', async () => {
    const result = (await call('post_message', { channel: '#general', text: 'Standup in 5' })).json();
    expect(general.messages).toEqual([{ ts: result.posted.ts, user: fake.botUserId, text: 'Standup in 5' }]);
    expect(result.posted).toMatchObject({ channel: general.id, text: 'Standup in 5', user: fake.botUserId });
    expect(calls('chat.postMessage')[0]).toMatchObject({
      httpMethod: 'POST',
      token: tokens.bot,
      args: { channel: general.id, text: 'Standup in 5' },
    });
  });

  it('post_message to a channel the app is not in says to invite it', async () => {
    const result = await call('post_message', { channel: random.id, text: 'hello' });
    expect(result).toMatchObject({ isError: true });
    expect(result.text).toContain('invite it');
    expect(random.messages).toHaveLength(0);
  });

  it('reply_in_thread replies under the parent, and can also send the reply to the channel', async () => {
    const parent = fake.addMessage(launch.id, { user: bob, text: 'Who owns the changelog?' });
    const reply = (
      await call('reply_in_thread', { channel: launch.id, thread_ts: parent, text: 'I do', also_send_to_channel: true })
    ).json();
    expect(reply.posted).toMatchObject({ thread_ts: parent, text: 'I do' });
    expect(launch.messages.at(-1)).toMatchObject({ ts: reply.posted.ts, thread_ts: parent, text: 'I do', reply_broadcast: true });
    const history = (await call('get_channel_history', { channel: launch.id })).json();
    expect(history.messages[0]).toMatchObject({ ts: reply.posted.ts, thread_ts: parent });
  });

  it('renews an expired token once (Slack answers invalid_auth with HTTP 200) and retries the call', async () => {
    const old = tokens.bot;
    fake.expire(old);
    const result = await call('list_channels');
    expect(result.isError).toBe(false);
    expect(renewed).toEqual([old]);
    expect(calls('conversations.list').map((r) => r.token)).toEqual([old, tokens.bot]);
  });

  it('a refused token that renewal cannot fix is a clear error, not a loop', async () => {
    fake.failNext({ error: 'invalid_auth' });
    fake.failNext({ error: 'invalid_auth' });
    const result = await call('list_channels');
    expect(result).toMatchObject({ isError: true });
    expect(result.text).toContain('connect Slack again');
    expect(calls('conversations.list')).toHaveLength(2);
  });

  it('a 429 answers when to try again', async () => {
    fake.failNext({ status: 429, retryAfter: 7 });
    const result = await call('list_channels');
    expect(result).toMatchObject({ isError: true });
    expect(result.text).toContain('Try again in 7 s');
  });

  it('a missing scope names the scope and says to reconnect', async () => {
    tokens.bot = fake.issueToken('bot', ['channels:read', 'users:read']);
    const result = await call('get_channel_history', { channel: general.id });
    expect(result).toMatchObject({ isError: true });
    expect(result.text).toContain('"channels:history"');
    expect(result.text).toContain('Connect Slack again');
  });

  it('a workspace that uninstalled the app is a clear error for bot and user tools alike', async () => {
    fake.uninstall();
    const read = await call('list_channels');
    expect(read).toMatchObject({ isError: true });
    expect(read.text).toContain('account_inactive');
    expect(read.text).toContain('removed the Agentry app');
    const search = await call('search_messages', { query: 'x' });
    expect(search.text).toContain('token_revoked');
    expect(renewed).toEqual([]);
  });

  it('a garbage answer or a 500 is a tool error, and the next call works', async () => {
    fake.failNext({ garbage: true });
    expect((await call('list_channels')).text).toContain('not JSON');
    fake.failNext({ status: 500 });
    expect((await call('list_channels')).text).toContain('Slack had an error (HTTP 500)');
    fake.failNext({ error: 'ratelimited' });
    expect((await call('list_channels')).text).toContain('limiting requests');
    expect((await call('list_channels')).isError).toBe(false);
  });

  it('an unknown channel name or id is a clear error', async () => {
    const byName = await call('get_channel_history', { channel: '#nowhere' });
    expect(byName.text).toContain('No public channel is named #nowhere');
    const byId = await call('get_channel_history', { channel: 'C0DOESNOTEXIST' });
    expect(byId.text).toContain('no such channel');
    const badTime = await call('get_channel_history', { channel: general.id, oldest: 'last tuesday' });
    expect(badTime.text).toContain('ISO 8601');
  });
});
