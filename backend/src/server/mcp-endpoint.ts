import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimitGroup } from '../config.ts';
import { AppError } from '../errors.ts';
import { principalOf } from './auth.ts';
import { registerMcpDocuments, type McpDocumentDeps } from './mcp-documents.ts';
import { maxRunWaitSeconds, registerMcpTools, type McpToolDeps } from './mcp-tools.ts';

export type McpEndpointDeps = Omit<McpToolDeps, 'onError'> & McpDocumentDeps & { version: string };

/** An MCP request's body, at most: tool arguments and JSON-RPC framing, never a document. */
export const mcpBodyLimit = 256 * 1024;
/** A request's answer is given up past this: the longest wait a tool allows, and some room. */
const mcpAnswerTimeoutMs = (maxRunWaitSeconds + 15) * 1000;

/** The rate-limit group an MCP message counts against: a tool call against the limit of the REST route doing the same. */
function rateLimitGroupOf(request: FastifyRequest): RateLimitGroup {
  const body = request.body as { method?: unknown; params?: { name?: unknown } } | undefined;
  if (body?.method !== 'tools/call') return 'default';
  if (body.params?.name === 'knowledge_search') return 'knowledgeSearch';
  if (body.params?.name === 'run_workflow') return 'promptGeneration';
  return 'default';
}

/**
 * `/mcp`: Agentry as an MCP server over Streamable HTTP, for MCP clients (IDEs, desktop chat
 * apps, agents) to search the user's documents, list and run workflows, and read documents.
 *
 * Stateless: every POST gets a server and transport of its own, made for the caller the auth hook
 * authenticated (an API token as the bearer token), so any instance answers any request and no
 * MCP session is kept. GET (a server-to-client stream) and DELETE (ending a session) have nothing
 * to do without sessions and answer 405. The body is JSON within `mcpBodyLimit`, parsed and
 * checked like every JSON body, one message per request (a batch could hide many tool calls
 * behind one rate-limit count); the answer is bounded in time by `mcpAnswerTimeoutMs`.
 */
export async function mcpEndpoint(app: FastifyInstance, deps: McpEndpointDeps): Promise<void> {
  // RFC 6750: a bearer-protected resource says how to authenticate when it refuses a request.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="agentry"');
    return payload;
  });

  app.post(
    '/mcp',
    { bodyLimit: mcpBodyLimit, config: { ownBody: true, rateLimitGroup: rateLimitGroupOf }, schema: { hide: true } },
    async (request, reply) => {
      if (Array.isArray(request.body))
        throw new AppError('VALIDATION_FAILED', 'Send one JSON-RPC message per request: batches are refused.');
      const user = principalOf(request).user;
      const server = new McpServer({ name: 'agentry', version: deps.version }, { instructions: instructions });
      registerMcpTools(server, user, { ...deps, onError: (error, context) => request.log.error({ err: error }, context) });
      registerMcpDocuments(server, user, deps);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      await answer(request, reply, server, transport);
    },
  );

  const methodNotAllowed = async (_request: FastifyRequest, reply: FastifyReply) => {
    reply.header('allow', 'POST');
    throw new AppError(
      'METHOD_NOT_ALLOWED',
      'This MCP server is stateless: send every message as a POST; there is no stream to open or session to end.',
    );
  };
  app.get('/mcp', { schema: { hide: true } }, methodNotAllowed);
  app.delete('/mcp', { schema: { hide: true } }, methodNotAllowed);
}

/** Hands the request to the transport, which writes the answer itself, and closes both once it is written or given up. */
async function answer(request: FastifyRequest, reply: FastifyReply, server: McpServer, transport: StreamableHTTPServerTransport) {
  reply.hijack();
  reply.raw.setHeader('x-request-id', request.id);
  const timer = setTimeout(() => {
    request.log.warn({ timeoutMs: mcpAnswerTimeoutMs }, 'an MCP request took too long: its connection is closed');
    reply.raw.destroy();
  }, mcpAnswerTimeoutMs);
  const close = () => {
    clearTimeout(timer);
    void transport.close();
    void server.close();
  };
  reply.raw.once('close', close);
  try {
    await server.connect(transport);
    await transport.handleRequest(request.raw, reply.raw, request.body);
  } catch (error) {
    request.log.error({ err: error }, 'MCP request failed');
    if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' });
    reply.raw.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal error' }, id: null }));
    close();
  }
}

const instructions =
  "Agentry runs workflow templates as durable AI agent sessions over the user's documents and connected integrations. " +
  'Use list_workflows to see what can run, run_workflow to start one (it waits for the answer up to a timeout), ' +
  'session_status for one still running, and knowledge_search or the documents resources to read the knowledge base.';
