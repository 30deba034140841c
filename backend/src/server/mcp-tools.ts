import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { PublicUser } from '../accounts/index.ts';
import type { AgentRunner, TurnOutcome } from '../agent/index.ts';
import { AppError } from '../errors.ts';
import type { Features } from '../features.ts';
import type { KnowledgeSearch } from '../knowledge/index.ts';
import type { SessionService } from '../sessions/index.ts';
import type { TemplateService } from '../templates/index.ts';

export interface McpToolDeps {
  knowledgeSearch: KnowledgeSearch;
  templates: TemplateService;
  sessions: SessionService;
  runner: AgentRunner;
  features: Features;
  /** Where a failure that is not the caller's is logged (once; the caller sees INTERNAL). */
  onError: (error: unknown, context: string) => void;
}

/** How long `run_workflow` may wait for the answer: the connection is held meanwhile, so not for ever. */
export const maxRunWaitSeconds = 120;
const defaultRunWaitSeconds = 30;
/** The answer's text in a result, at most (the whole of it stays in the session's transcript). */
const maxAnswerChars = 20_000;

/**
 * Registers Agentry's MCP tools on a server made for one request of one user. Each tool calls the
 * same service, with the same checks, as the REST route that does the same thing: the caller's own
 * objects only (another user's session answers SESSION_NOT_FOUND), the same argument bounds, the
 * same refusals. A refusal is a tool result with `isError` and the error's code and message, as
 * MCP asks of errors a model should read; nothing is left half-made by one.
 */
export function registerMcpTools(server: McpServer, user: PublicUser, deps: McpToolDeps): void {
  const run = (name: string, work: () => Promise<object>) => answer(name, work, deps.onError);

  server.registerTool(
    'knowledge_search',
    {
      title: 'Search your documents',
      description: "Searches the calling user's knowledge base and returns the best-matching passages with their document titles.",
      inputSchema: {
        query: z.string().trim().min(1, 'must not be empty').max(10_000, 'must be at most 10,000 characters'),
        limit: z.number().int().min(1).max(100).default(10).describe('How many passages, 1 to 100'),
        mode: z.enum(['hybrid', 'vector', 'keyword']).default('hybrid'),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ query, limit, mode }) =>
      run('knowledge_search', async () => {
        await deps.features.require('knowledgeBase');
        const found = await deps.knowledgeSearch.search(user.id, { query, limit, mode, threshold: 0 });
        return {
          results: found.results.map((r) => ({ documentId: r.documentId, title: r.title, content: r.content, score: r.score })),
          hasMore: found.hasMore,
        };
      }),
  );

  server.registerTool(
    'list_workflows',
    {
      title: 'List workflows',
      description:
        'The workflow templates the calling user can run: slug, name, variables, and whether the integrations they need are connected.',
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    () =>
      run('list_workflows', async () => ({
        workflows: (await deps.templates.list(user.id)).map((t) => ({
          slug: t.slug,
          name: t.name,
          description: t.description,
          variables: t.variables.map((v) => ({
            name: v.name,
            type: v.type,
            required: v.required ?? false,
            ...(v.description ? { description: v.description } : {}),
            ...(v.values ? { values: v.values } : {}),
            ...(v.default !== undefined ? { default: v.default } : {}),
          })),
          available: t.available,
          missingIntegrations: t.missingIntegrations,
        })),
      })),
  );

  server.registerTool(
    'run_workflow',
    {
      title: 'Run a workflow',
      description:
        'Starts a session from a workflow template with its variables and waits up to `timeoutSeconds` for its answer. ' +
        'If the answer is not ready by then, returns the session id and status: ask session_status later.',
      inputSchema: {
        slug: z.string().min(1).max(100).describe('The template slug (or id), from list_workflows'),
        variables: z.record(z.string().max(64), z.unknown()).default({}),
        message: z.string().trim().min(1).max(10_000).optional().describe("The opening message; the template's own prompt when absent"),
        timeoutSeconds: z.number().int().min(0).max(maxRunWaitSeconds).default(defaultRunWaitSeconds),
      },
      // Each call starts a new session that may use the user's connected integrations.
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    ({ slug, variables, message, timeoutSeconds }) =>
      run('run_workflow', async () => {
        const template = await deps.templates.get(user.id, slug);
        // Refused here (missing variables or integrations, a bad value): nothing is created.
        const { session } = await deps.sessions.create(user, { templateId: template.id, templateVersion: template.version, variables });
        if (!session.conversationId) throw new AppError('INTERNAL', 'A new session has no conversation.');
        let started;
        try {
          started = await deps.runner.send(user, session.conversationId, message ?? session.userPrompt ?? `Run ${template.name}.`);
        } catch (error) {
          // Refused before its first turn (the monthly spend limit): the session goes too.
          await deps.sessions.delete(user.id, session.id).catch((cleanup: unknown) => deps.onError(cleanup, 'run_workflow cleanup'));
          throw error;
        }
        const outcome = await within(started.done, timeoutSeconds * 1000);
        if (!outcome) return { sessionId: session.id, status: 'running', done: false };
        return { sessionId: session.id, ...turnAnswer(outcome), done: outcome.status !== 'running' };
      }),
  );

  server.registerTool(
    'session_status',
    {
      title: 'Session status',
      description: "A session's status and its latest answer (for a run_workflow that was still running).",
      inputSchema: { sessionId: z.uuid() },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ sessionId }) =>
      run('session_status', async () => {
        const session = await deps.sessions.get(user.id, sessionId);
        const latest = await deps.runner.latestAnswer(user.id, sessionId);
        return {
          sessionId,
          status: session.status,
          turn: session.activeTurn ? session.activeTurn.status : 'idle',
          answer: latest ? capped(latest.content) : null,
          answeredAt: latest?.createdAt ?? null,
        };
      }),
  );
}

function turnAnswer(outcome: TurnOutcome) {
  return {
    status: outcome.status,
    answer: outcome.message ? capped(outcome.message.content) : null,
    ...(outcome.error ? { error: outcome.error } : {}),
  };
}

function capped(text: string): string {
  return text.length > maxAnswerChars ? `${text.slice(0, maxAnswerChars)}… (cut at ${maxAnswerChars} characters)` : text;
}

/** The promise's value if it settles within `ms`, else undefined (the work goes on). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A tool's value as an MCP result, or its refusal as an `isError` result naming the error's code. */
async function answer(name: string, work: () => Promise<object>, onError: McpToolDeps['onError']): Promise<CallToolResult> {
  try {
    const value = await work();
    return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value as Record<string, unknown> };
  } catch (error) {
    const refusal = error instanceof AppError ? error : new AppError('INTERNAL', { cause: error });
    if (refusal.status >= 500) onError(error, `MCP tool ${name}`);
    const text = `${refusal.code}: ${refusal.message}`;
    return {
      content: [{ type: 'text', text }],
      structuredContent: { error: { code: refusal.code, message: refusal.message } },
      isError: true,
    };
  }
}
