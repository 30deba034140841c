import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { McpError, ToolListChangedNotificationSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { AppError } from '../errors.ts';
import { boundedEventStream, type EventStreamLimits } from './bounded-event-stream.ts';
import type { ProviderEntry } from './catalogue.ts';
import { BuiltinServers } from './connectors/builtin-servers.ts';
import { ProviderError } from './connectors/provider-api.ts';
import type { SandboxData } from './connectors/sandbox/index.ts';
import type { OutboundGuard } from './outbound-guard.ts';

/** One user's connection, as the MCP client needs it. */
export interface McpTarget {
  connectionId: string;
  userId: string;
  provider: string;
  entry: ProviderEntry;
  /** The user's own MCP URL, for catalogue entries that take one. */
  mcpUrl: string | null;
}

export interface McpClientsOptions {
  guard: OutboundGuard;
  /** The bearer token for a connection (an access token or API key), renewed when `rejected` is the one a server refused. */
  bearer(target: McpTarget, rejected?: string): Promise<string | undefined>;
  /** The user's own token beside the connection's, where the provider granted one (Slack's user token). */
  userToken(target: McpTarget): Promise<string | undefined>;
  /** The server said its tool list changed. */
  onToolsChanged(target: McpTarget): void;
  /** The server's notification stream broke a limit: it was closed, with its client (the next use connects afresh). */
  onStreamRefused(target: McpTarget, error: McpUnavailable): void;
  /** How long connecting and each request may take. */
  timeoutMs: number;
  /** The largest answer accepted from a server (and the largest event on its notification stream); a larger one fails the request. */
  maxResponseBytes: number;
  version: string;
  /** The keyless sandbox's data, served by its built-in server. */
  sandbox: SandboxData;
}

/**
 * A failure to reach or understand an MCP server. `transient`: worth trying again later.
 * `mayHaveRun`: the request may have reached the server and had its effect (a timeout, a
 * connection lost mid-answer), so only an idempotent call may be repeated. `transport`: the
 * connection itself failed (its client is replaced, and the connection counts as degraded).
 */
export class McpUnavailable extends AppError {
  constructor(
    message: string,
    readonly failure: { transient: boolean; mayHaveRun: boolean; transport: boolean },
  ) {
    super('INTEGRATION_UNAVAILABLE', message);
  }
}

const maxToolPages = 20;
const idleMs = 2 * 60_000;
/** Events a notification stream may deliver per window: a server has no reason to send more than a few a second. */
const streamWindowMs = 10_000;
const maxStreamEventsPerWindow = 100;

/**
 * One MCP client per connection, made on first use and kept: Streamable HTTP through the outbound
 * guard with the user's credential as a bearer token (renewed once on a 401), or a local command
 * over stdio from the administrator's catalogue. A client that fails is dropped, so the next use
 * connects afresh.
 *
 * Nothing a server sends is held without a bound: an answer is read whole up to
 * `maxResponseBytes` (what it says to a message that asks nothing is not read at all), and the
 * notification stream (the GET event stream) may carry events of at most `maxResponseBytes`, at
 * most 100 events and four times `maxResponseBytes` every 10 seconds; a stream past that is
 * closed with its client.
 */
export class McpClients {
  private readonly clients = new Map<string, { client: Promise<Client>; lastUsed: number; active: number }>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly builtins: BuiltinServers;

  constructor(private readonly options: McpClientsOptions) {
    this.builtins = new BuiltinServers({
      fetch: (url, init) => options.guard.fetch(url, init),
      timeoutMs: options.timeoutMs,
      maxResponseBytes: options.maxResponseBytes,
      sandbox: options.sandbox,
    });
    // A client unused for two minutes is closed (its notification stream, or its stdio process);
    // so a connection only the health check touches holds nothing between checks.
    this.sweeper = setInterval(() => {
      for (const [id, entry] of this.clients) if (entry.active === 0 && Date.now() - entry.lastUsed > idleMs) void this.drop(id);
    }, 60_000);
    this.sweeper.unref();
  }

  /** Every tool the server lists (all pages, up to a bound). */
  async listTools(target: McpTarget): Promise<Tool[]> {
    return this.use(target, async (client) => {
      const tools: Tool[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < maxToolPages; page++) {
        const listed = await client.listTools(cursor ? { cursor } : {}, { timeout: this.options.timeoutMs });
        tools.push(...listed.tools);
        cursor = listed.nextCursor;
        if (!cursor) break;
      }
      return tools;
    });
  }

  /** Calls a tool; the idempotency key travels in `_meta` for servers that deduplicate. */
  async callTool(
    target: McpTarget,
    name: string,
    args: Record<string, unknown>,
    options: { signal?: AbortSignal | undefined; idempotencyKey?: string | undefined },
  ): Promise<CallToolResult> {
    return this.use(target, async (client) => {
      const params = { name, arguments: args, ...(options.idempotencyKey ? { _meta: { idempotencyKey: options.idempotencyKey } } : {}) };
      return (await client.callTool(params, undefined, {
        timeout: this.options.timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      })) as CallToolResult;
    });
  }

  /**
   * Checks a key a user gives, before a connection is saved with it: a remote server must accept
   * it for listing its tools, a built-in server's provider for its cheap check call (Slack's
   * auth.test). Nothing is kept: the client made for the check is closed at once. Throws
   * INTEGRATION_KEY_REJECTED when the server refuses the key (401, 403), INTEGRATION_UNAVAILABLE
   * when it cannot say, and never puts the key in a message.
   */
  async checkKey(entry: ProviderEntry, key: string, options: { mcpUrl: string | null }): Promise<void> {
    const { mcp } = entry;
    const rejected = (said: string) =>
      new AppError('INTEGRATION_KEY_REJECTED', `${entry.name} refused the key (${said}): check that it is whole and still valid.`);
    if (mcp.transport === 'builtin') {
      try {
        await this.builtins.check(mcp.server, key, { apiUrl: mcp.apiUrl });
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        if (error.status === 401 || error.status === 403) throw rejected(`${entry.name} answered ${error.status}`);
        throw new McpUnavailable(`The key could not be checked: ${error.message}`, { transient: true, mayHaveRun: false, transport: true });
      }
      return;
    }
    if (mcp.transport !== 'streamable-http') throw new AppError('VALIDATION_FAILED', `${entry.name} takes no key.`);
    const target: McpTarget = { connectionId: `key-check-${randomUUID()}`, userId: '', provider: entry.id, entry, mcpUrl: options.mcpUrl };
    const client = new Client({ name: 'agentry', version: this.options.version }, { capabilities: {} });
    try {
      const transport = this.transport(target, { bearer: async () => key, onStreamRefused: () => undefined });
      await client.connect(transport, { timeout: this.options.timeoutMs });
      await client.listTools({}, { timeout: this.options.timeoutMs });
    } catch (error) {
      if (error instanceof StreamableHTTPError && (error.code === 401 || error.code === 403))
        throw rejected(`the MCP server answered HTTP ${error.code}`);
      throw toUnavailable(error, target);
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  async ping(target: McpTarget): Promise<void> {
    await this.use(target, (client) => client.ping({ timeout: this.options.timeoutMs }));
  }

  /** Closes a connection's client (at disconnect, or after it failed). */
  async drop(connectionId: string): Promise<void> {
    const entry = this.clients.get(connectionId);
    this.clients.delete(connectionId);
    await entry?.client.then((c) => c.close()).catch(() => undefined);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.clients.keys()].map((id) => this.drop(id)));
  }

  private async use<T>(target: McpTarget, run: (client: Client) => Promise<T>): Promise<T> {
    let entry = this.clients.get(target.connectionId);
    if (!entry) {
      entry = { client: this.connect(target), lastUsed: Date.now(), active: 0 };
      this.clients.set(target.connectionId, entry);
    }
    entry.active += 1;
    try {
      return await run(await entry.client);
    } catch (error) {
      const failure = toUnavailable(error, target);
      // Only a broken connection is replaced: other calls may be using this client.
      const broken = !(failure instanceof McpUnavailable) || failure.failure.transport;
      if (broken && this.clients.get(target.connectionId) === entry) await this.drop(target.connectionId);
      throw failure;
    } finally {
      entry.active -= 1;
      entry.lastUsed = Date.now();
    }
  }

  private connect(target: McpTarget): Promise<Client> {
    const client = new Client({ name: 'agentry', version: this.options.version }, { capabilities: {} });
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => this.options.onToolsChanged(target));
    const refused = (reason: string) => {
      // The stream is already closed; its client goes too, so the SDK does not reconnect to more of the same.
      if (this.clients.get(target.connectionId)?.client === pending) void this.drop(target.connectionId);
      const message = `The ${target.entry.name} MCP server's notification stream was closed: ${reason}.`;
      this.options.onStreamRefused(target, new McpUnavailable(message, { transient: true, mayHaveRun: false, transport: true }));
    };
    const transport = this.transport(target, { bearer: (rejected) => this.options.bearer(target, rejected), onStreamRefused: refused });
    const pending = client.connect(transport, { timeout: this.options.timeoutMs }).then(() => client);
    // A transport that closes (the server went away) leaves no stale client behind.
    client.onclose = () => {
      if (this.clients.get(target.connectionId)?.client === pending) this.clients.delete(target.connectionId);
    };
    return pending;
  }

  /** The transport to a target's server; `bearer` gives the credential it sends (renewed when `rejected` is the one refused). */
  private transport(
    target: McpTarget,
    { bearer, onStreamRefused }: { bearer: (rejected?: string) => Promise<string | undefined>; onStreamRefused: (reason: string) => void },
  ): Transport {
    const { mcp } = target.entry;
    if (mcp.transport === 'builtin') {
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      const credentials = {
        token: bearer,
        userToken: () => this.options.userToken(target),
      };
      // Messages the client sends before the server has started wait in the transport's queue.
      void this.builtins.create(mcp.server, credentials, { apiUrl: mcp.apiUrl, userId: target.userId }).connect(serverSide);
      return clientSide;
    }
    if (mcp.transport === 'stdio') {
      return new StdioClientTransport({
        command: mcp.command,
        args: mcp.args,
        env: { ...getDefaultEnvironment(), ...mcp.env },
        stderr: 'ignore',
      });
    }
    const url = target.mcpUrl ?? mcp.url;
    const { maxResponseBytes, timeoutMs } = this.options;
    const streamLimits: EventStreamLimits = {
      maxEventBytes: maxResponseBytes,
      maxEventsPerWindow: maxStreamEventsPerWindow,
      maxBytesPerWindow: 4 * maxResponseBytes,
      windowMs: streamWindowMs,
    };
    const send = async (input: string | URL, init: RequestInit | undefined, token: string | undefined) => {
      const headers = new Headers(init?.headers);
      if (token) headers.set('authorization', `Bearer ${token}`);
      const response = await this.options.guard.fetch(input, { ...init, headers });
      // An answer (POST) is read whole, up to the cap; a notification stream (GET) is long-lived and bounded as it flows.
      if (init?.method === 'POST')
        return asksForAnswer(init.body) ? readCapped(response, maxResponseBytes, timeoutMs) : acknowledgement(response);
      if (init?.method !== 'GET' || !response.ok || !response.body) return response;
      const body = boundedEventStream(response.body, streamLimits, onStreamRefused);
      return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
    };
    return new StreamableHTTPClientTransport(new URL(url), {
      fetch: async (input, init) => {
        const token = await bearer();
        const response = await send(input, init, token);
        if (response.status !== 401 || !token) return response;
        const renewed = await bearer(token);
        return renewed && renewed !== token ? send(input, init, renewed) : response;
      },
      reconnectionOptions: {
        initialReconnectionDelay: 1000,
        maxReconnectionDelay: 30_000,
        reconnectionDelayGrowFactor: 1.5,
        maxRetries: 10,
      },
    });
  }
}

/**
 * The response with its body read whole, so an answer past `maxBytes` fails its request at once
 * (rather than leaving it to time out), and a body that trickles forever is given up on.
 */
async function readCapped(response: Response, maxBytes: number, timeoutMs: number): Promise<Response> {
  if (!response.body) return response;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let seen = 0;
  let late = false;
  const deadline = setTimeout(() => {
    late = true;
    void reader.cancel();
  }, timeoutMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (late)
        throw new McpUnavailable('The server did not finish its answer in time.', { transient: true, mayHaveRun: true, transport: false });
      if (done) break;
      seen += value.byteLength;
      if (seen > maxBytes) {
        await reader.cancel();
        throw new McpUnavailable(`The server's answer is larger than ${Math.round(maxBytes / 1024 / 1024)} MB; it was refused.`, {
          transient: false,
          mayHaveRun: true,
          transport: false,
        });
      }
      chunks.push(value);
    }
  } finally {
    clearTimeout(deadline);
  }
  return new Response(Buffer.concat(chunks), { status: response.status, statusText: response.statusText, headers: response.headers });
}

/**
 * What the server said to a message that asks nothing (a notification, our answer to its request),
 * without its body: the SDK discards that body, and a flood of its requests would otherwise have
 * us read an answer to each of our answers.
 */
async function acknowledgement(response: Response): Promise<Response> {
  await response.body?.cancel().catch(() => undefined);
  return new Response(null, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** Whether a message we POST is (or holds) a request, whose answer may be large; anything else is only acknowledged. */
function asksForAnswer(body: RequestInit['body']): boolean {
  if (typeof body !== 'string') return true;
  try {
    const parsed = JSON.parse(body) as unknown;
    const isRequest = (m: unknown) => typeof m === 'object' && m !== null && 'method' in m && 'id' in m;
    return Array.isArray(parsed) ? parsed.some(isRequest) : isRequest(parsed);
  } catch {
    return true;
  }
}

function toUnavailable(error: unknown, target: McpTarget): AppError {
  if (error instanceof McpUnavailable) return error;
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof McpUnavailable) return cause;
  if (error instanceof AppError && error.code !== 'INTEGRATION_UNAVAILABLE') return error; // CONNECTION_BROKEN, INTEGRATION_DISCONNECTED, OUTBOUND_REFUSED
  const what = `The ${target.entry.name} MCP server`;
  if (error instanceof McpError) {
    if (error.code === -32001)
      return new McpUnavailable(`${what} did not answer in time.`, { transient: true, mayHaveRun: true, transport: false });
    if (error.code === -32000)
      return new McpUnavailable(`${what} closed the connection.`, { transient: true, mayHaveRun: true, transport: true });
    return new McpUnavailable(`${what} answered with an error (${error.code}).`, { transient: false, mayHaveRun: false, transport: false });
  }
  if (error instanceof StreamableHTTPError) {
    const status = error.code ?? 0;
    // The server refuses even a renewed credential: the user must connect again.
    if (status === 401 || status === 403)
      return new AppError(
        'CONNECTION_BROKEN',
        `${what} refuses the connection's credentials (HTTP ${status}): connect ${target.entry.name} again.`,
      );
    // 429 and 503 refuse a request unprocessed; 404 is a session the server no longer knows.
    const unprocessed = status === 429 || status === 503 || status === 404;
    return new McpUnavailable(`${what} answered HTTP ${status || 'error'}.`, {
      transient: unprocessed || status >= 500,
      mayHaveRun: !unprocessed,
      transport: true,
    });
  }
  if ((error as Error).name === 'AbortError')
    return new McpUnavailable(`${what} call was cancelled.`, { transient: false, mayHaveRun: true, transport: false });
  if ((error as Error).name === 'ZodError' || error instanceof SyntaxError)
    return new McpUnavailable(`${what} sent an answer that is not valid MCP.`, { transient: false, mayHaveRun: true, transport: true });
  const code = (cause as { code?: string } | undefined)?.code ?? (error as { code?: string }).code;
  const neverSent = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code ?? '');
  return new McpUnavailable(`${what} cannot be reached.`, { transient: true, mayHaveRun: !neverSent, transport: true });
}
