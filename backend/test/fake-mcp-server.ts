import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer, type RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/**
 * MCP servers built with the MCP SDK, over Streamable HTTP on 127.0.0.1, for the integration
 * tests: a mail-like one (`list_unread`; `send_email`, which deduplicates by the idempotency key
 * in `_meta`), a calendar-like one, and one whose tool list changes while clients are connected.
 * Every request must carry a bearer token `accepts` takes; `misbehave` makes it answer badly, or
 * makes its notification stream (the GET event stream) hostile.
 */
export type McpKind = 'mail' | 'calendar' | 'changing';

/** The most a hostile notification stream sends (then it ends): enough to show, not enough to sink the test. */
export const hostileStreamBytes = 256 * 1024 * 1024;

export interface FakeMcpServer {
  url: string;
  kind: McpKind;
  /** Emails sent, once per idempotency key. */
  sent: Array<{ to: string; subject: string; key: string | undefined }>;
  /** Calls of each tool, counted as they arrive (duplicates included). */
  calls: Map<string, number>;
  /** Bearer tokens the server saw. */
  tokens: Set<string>;
  /**
   * The next answers: garbage (not JSON-RPC), huge (a 50 MB result), slow (never answers), down (503).
   * The next notification streams: huge-event (one event that never ends), flood (small events
   * without pause); each sends at most `hostileStreamBytes`, as fast as the client reads.
   * ping-flood: the stream sends 100 ping requests at once, and each answer the client POSTs gets
   * a 900 KB reply.
   */
  misbehave: 'none' | 'garbage' | 'huge' | 'slow' | 'down' | 'huge-event' | 'flood' | 'ping-flood';
  /** Answers to its ping requests the server received (ping-flood). */
  pingAnswers: number;
  /** The hostile notification streams so far: bytes sent, and whether the client hung up before the end. */
  hostileStreams: Array<{ kind: 'huge-event' | 'flood'; sent: number; closedByClient: boolean; ended: boolean }>;
  /** Adds a tool to every live session (and later ones): connected clients are told the list changed. */
  addTool(name: string, description: string): void;
  /** Changes a tool's description in every live session (and later ones); clients are told. */
  redescribe(name: string, description: string): void;
  close(): Promise<void>;
}

export async function startFakeMcpServer(
  kind: McpKind,
  options: { accepts: (token: string) => boolean; describe?: Record<string, string>; onCall?: (tool: string) => Promise<void> },
): Promise<FakeMcpServer> {
  const servers = new Set<McpServer>();
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const extraTools: Array<{ name: string; description: string }> = [];
  const descriptions: Record<string, string> = { ...options.describe };
  const describe = (name: string, fallback: string) => descriptions[name] ?? fallback;
  const registered = new Map<McpServer, Map<string, RegisteredTool>>();
  const state = { kind, sent: [], calls: new Map(), tokens: new Set(), misbehave: 'none', hostileStreams: [], pingAnswers: 0 } as Omit<
    FakeMcpServer,
    'url' | 'addTool' | 'redescribe' | 'close'
  >;
  const count = (name: string) => state.calls.set(name, (state.calls.get(name) ?? 0) + 1);
  const text = (value: unknown) => ({
    content: [{ type: 'text' as const, text: typeof value === 'string' ? value : JSON.stringify(value) }],
  });

  const build = () => {
    const server = new McpServer({ name: `fake-${kind}`, version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
    const tools = new Map<string, RegisteredTool>();
    registered.set(server, tools);
    const add: McpServer['registerTool'] = (name, config, callback) => {
      const tool = server.registerTool(name, config, callback);
      tools.set(name, tool);
      return tool;
    };
    if (kind === 'mail') {
      add(
        'list_unread',
        { description: describe('list_unread', 'List unread emails in the inbox.'), annotations: { readOnlyHint: true } },
        async () => {
          count('list_unread');
          if (state.misbehave === 'huge') return text('x'.repeat(50 * 1024 * 1024));
          if (state.misbehave === 'slow') await new Promise(() => undefined);
          return text([{ from: 'ada@example.com', subject: 'Quarterly numbers' }]);
        },
      );
      add(
        'send_email',
        {
          description: describe('send_email', 'Send an email.'),
          inputSchema: { to: z.string(), subject: z.string(), body: z.string().optional() },
        },
        async ({ to, subject }, extra) => {
          count('send_email');
          if (state.misbehave === 'slow') await new Promise(() => undefined);
          const key = typeof extra._meta?.['idempotencyKey'] === 'string' ? extra._meta['idempotencyKey'] : undefined;
          if (!key || !state.sent.some((m) => m.key === key)) state.sent.push({ to, subject, key });
          return text(`Sent "${subject}" to ${to}.`);
        },
      );
    } else if (kind === 'calendar') {
      add(
        'list_events',
        {
          description: describe('list_events', 'List calendar events for a day.'),
          inputSchema: { date: z.string().optional() },
          annotations: { readOnlyHint: true },
        },
        async () => {
          count('list_events');
          return text([{ title: 'Standup', at: '09:30' }]);
        },
      );
      // The same name as the mail server's: namespacing keeps them apart.
      add(
        'search',
        { description: describe('search', 'Search events.'), inputSchema: { query: z.string() }, annotations: { readOnlyHint: true } },
        async ({ query }) => {
          count('search');
          return text(`calendar results for ${query}`);
        },
      );
    } else {
      add('alpha', { description: describe('alpha', 'The first tool.'), annotations: { readOnlyHint: true } }, async () => {
        await options.onCall?.('alpha');
        return text('alpha');
      });
    }
    if (kind === 'mail') {
      add(
        'search',
        { description: describe('search', 'Search emails.'), inputSchema: { query: z.string() }, annotations: { readOnlyHint: true } },
        async ({ query }) => {
          count('search');
          return text(`mail results for ${query}`);
        },
      );
    }
    for (const tool of extraTools)
      add(tool.name, { description: tool.description, annotations: { readOnlyHint: true } }, async () => text(tool.name));
    servers.add(server);
    return server;
  };

  const http_ = http.createServer((req, res) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token || !options.accepts(token)) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' });
      return void res.end('{"error":"invalid_token"}');
    }
    state.tokens.add(token);
    if (req.method === 'POST' && state.misbehave === 'down') {
      res.writeHead(503);
      return void res.end();
    }
    if (req.method === 'GET' && (state.misbehave === 'huge-event' || state.misbehave === 'flood'))
      return void streamHostile(res, state.misbehave);
    if (state.misbehave === 'ping-flood' && req.method === 'GET') return void pingFlood(res);
    if (state.misbehave === 'ping-flood' && req.method === 'POST') return void replyToAnswers(req, res);
    if (req.method === 'POST' && state.misbehave === 'garbage' && req.headers['mcp-session-id']) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end('{"jsonrpc": "2.0", "id": 1, "result": {"tools": "not a list"');
    }
    handle(req, res);
  });
  const handle = (req: http.IncomingMessage, res: http.ServerResponse, body?: unknown) =>
    void (async () => {
      const sessionId = req.headers['mcp-session-id'];
      let transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
      if (!transport) {
        const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => void transports.set(id, created),
        });
        transport = created;
        await build().connect(created);
      }
      await transport.handleRequest(req, res, body);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });

  /** A notification stream that sends 100 ping requests at once, then stays open. */
  const pingFlood = (res: http.ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(
      Array.from({ length: 100 }, (_, i) => `data: ${JSON.stringify({ jsonrpc: '2.0', id: `ping-${i}`, method: 'ping' })}\n\n`).join(''),
    );
  };
  const pingReply = Buffer.alloc(900 * 1024, 'x'); // one buffer for every reply: the fake's own memory stays flat
  /** The client's answers to those pings get a 900 KB reply each; anything else is served as usual. */
  const replyToAnswers = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { method?: string };
      if (body.method !== undefined) return handle(req, res, body);
      state.pingAnswers += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(pingReply);
    });
  };
  /** Writes a hostile event stream, as fast as the client takes it, until `hostileStreamBytes` or the client hangs up. */
  const streamHostile = async (res: http.ServerResponse, kind: 'huge-event' | 'flood') => {
    const record = { kind, sent: 0, closedByClient: false, ended: false };
    state.hostileStreams.push(record);
    res.on('close', () => (record.closedByClient = !record.ended));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const event = `data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'flood' } })}\n\n`;
    const chunk = Buffer.from(kind === 'flood' ? event.repeat(Math.floor(65536 / event.length)) : 'x'.repeat(65536));
    if (kind === 'huge-event') res.write('data: ');
    while (record.sent < hostileStreamBytes && !res.destroyed) {
      record.sent += chunk.length;
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const go = () => (res.off('drain', go).off('close', go), resolve());
          res.on('drain', go).on('close', go);
        });
      }
    }
    record.ended = !res.destroyed;
    res.end();
  };

  await new Promise<void>((resolve) => http_.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(http_.address() as AddressInfo).port}/mcp`,
    addTool(name: string, description: string) {
      extraTools.push({ name, description });
      for (const server of servers) {
        if (server.isConnected())
          registered.get(server)?.set(
            name,
            server.registerTool(name, { description, annotations: { readOnlyHint: true } }, async () => text(name)),
          );
      }
    },
    redescribe(name: string, description: string) {
      descriptions[name] = description;
      for (const tools of registered.values()) tools.get(name)?.update({ description });
    },
    async close() {
      for (const server of servers) await server.close().catch(() => undefined);
      http_.closeAllConnections();
      await new Promise<void>((resolve) => http_.close(() => resolve()));
    },
  });
}
