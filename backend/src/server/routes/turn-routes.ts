import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AgentRunner, ChatBridge } from '../../agent/index.ts';
import { AppError } from '../../errors.ts';
import type { SessionService } from '../../sessions/index.ts';
import { principalOf } from '../auth.ts';
import { idParams } from './schemas.ts';
import { sessionSchema } from './session-routes.ts';

const messageSchema = z.object({
  id: z.uuid(),
  turnId: z.uuid(),
  step: z.number(),
  role: z.enum(['user', 'assistant', 'tool', 'summary']),
  content: z.string(),
  toolCalls: z.array(z.object({ callId: z.string(), tool: z.string(), input: z.unknown() })),
  toolCallId: z.string().nullable(),
  toolName: z.string().nullable(),
  toolResult: z.unknown(),
  isError: z.boolean(),
  model: z.string().nullable(),
  usage: z.object({ inputTokens: z.number(), outputTokens: z.number() }),
  costUsd: z.number().nullable(),
  costEstimated: z.boolean().describe('costUsd was counted at DEFAULT_MODEL_PRICE: the model has no price.'),
  latencyMs: z.number().nullable(),
  createdAt: z.string(),
});
const turnSchema = z.object({
  id: z.uuid(),
  status: z.enum(['running', 'suspended', 'awaiting_approval', 'completed', 'failed', 'cancelled', 'step_limit']),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

/** Turns: send a message (the agent answers in the background, streamed as events), read the transcript, cancel. */
export const turnRoutes: FastifyPluginAsyncZod<{ sessions: SessionService; runner: AgentRunner; chat: ChatBridge }> = async (
  app,
  { sessions, runner, chat },
) => {
  app.post(
    '/v1/chat',
    {
      config: { rateLimitGroup: 'promptGeneration' },
      schema: {
        tags: ['sessions'],
        summary: 'Chat: a confident template match starts a session and runs it; otherwise suggestions, or what is missing',
        body: z.strictObject({
          message: z.string().trim().min(1, 'must not be empty').max(10_000, 'must be at most 10,000 characters'),
          conversationId: z.uuid().optional(),
        }),
        response: {
          200: z.object({
            executed: z.boolean(),
            templateId: z.string().optional(),
            sessionId: z.string().optional(),
            conversationId: z.string().optional(),
            turnId: z.string().optional(),
            suggestions: z
              .array(z.object({ templateId: z.string(), name: z.string(), confidence: z.number(), available: z.boolean() }))
              .optional(),
            missingVariables: z.array(z.object({ name: z.string(), type: z.string(), description: z.string().optional() })).optional(),
            missingIntegrations: z.array(z.string()).optional(),
          }),
        },
      },
    },
    async (request) => chat.chat(principalOf(request).user, request.body.message, request.body.conversationId),
  );

  app.post(
    '/v1/conversations/:id/messages',
    {
      schema: {
        tags: ['sessions'],
        summary:
          'Send a message: 202 with the turn, whose progress streams as events on session:<id>; ?wait=true answers when the turn ends',
        params: idParams,
        querystring: z.strictObject({ wait: z.enum(['true', 'false']).optional() }),
        body: z.strictObject({ content: z.string().trim().min(1, 'must not be empty').max(100_000, 'must be at most 100,000 characters') }),
        response: {
          202: z.object({ turnId: z.uuid(), messageId: z.uuid() }),
          200: z.object({ turn: turnSchema, message: messageSchema.nullable() }),
        },
      },
    },
    async (request, reply) => {
      const { turnId, messageId, done } = await runner.send(principalOf(request).user, request.params.id, request.body.content);
      if (request.query.wait !== 'true') return reply.code(202).send({ turnId, messageId });
      const outcome = await done;
      return reply.code(200).send({
        turn: { id: turnId, status: outcome.status, ...(outcome.error ? { error: outcome.error } : {}) },
        message: outcome.message,
      });
    },
  );

  app.get(
    '/v1/conversations/:id/messages',
    {
      schema: {
        tags: ['sessions'],
        summary: "A conversation's messages in order, with tool calls and token usage",
        params: idParams,
        querystring: z.strictObject({
          limit: z.coerce.number().int().min(1).max(200).default(50),
          after: z.coerce.number().int().min(0).optional(),
        }),
        response: {
          200: z.object({ messages: z.array(messageSchema), next: z.number().nullable().describe('Pass as ?after= for the next page') }),
        },
      },
    },
    async (request) => runner.messages(principalOf(request).user.id, request.params.id, request.query),
  );

  const reportedError = z.object({ code: z.string(), message: z.string() });
  app.get(
    '/v1/turns/:id/timeline',
    {
      schema: {
        tags: ['sessions'],
        summary: "Where a turn's time and money went: its model calls and tool calls, each with its start, duration, tokens and cost",
        params: idParams,
        response: {
          200: z.object({
            turnId: z.uuid(),
            sessionId: z.uuid(),
            status: z.enum(['running', 'suspended', 'awaiting_approval', 'completed', 'failed', 'cancelled', 'step_limit']),
            startedAt: z.string(),
            finishedAt: z.string().nullable(),
            calls: z.array(
              z.discriminatedUnion('kind', [
                z.object({
                  kind: z.literal('model'),
                  step: z.number(),
                  model: z.string(),
                  startedAt: z.string(),
                  durationMs: z.number(),
                  inputTokens: z.number(),
                  outputTokens: z.number(),
                  costUsd: z.number().nullable(),
                  error: reportedError.nullable(),
                }),
                z.object({
                  kind: z.literal('tool'),
                  step: z.number(),
                  tool: z.string(),
                  status: z.enum(['pending', 'awaiting_approval', 'started', 'completed', 'skipped']),
                  isError: z.boolean(),
                  startedAt: z.string().nullable().describe('null for a call that has not run'),
                  durationMs: z.number().nullable(),
                }),
              ]),
            ),
          }),
        },
      },
    },
    async (request) => runner.timeline(principalOf(request).user.id, request.params.id),
  );

  app.post(
    '/v1/sessions/:id/restore',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Continue from a checkpoint: later messages are removed, its context and counts come back, and the session runs',
        params: idParams,
        body: z.strictObject({ checkpointId: z.uuid() }),
        response: { 200: z.object({ session: sessionSchema }) },
      },
    },
    async (request) => ({ session: await sessions.restore(principalOf(request).user.id, request.params.id, request.body.checkpointId) }),
  );

  app.post(
    '/v1/sessions/:id/resolve',
    {
      schema: {
        tags: ['sessions'],
        summary:
          'Decide on a tool call whose outcome a crash left unknown: retry it, skip it (the model reads your note), or fail the session',
        params: idParams,
        body: z.strictObject({ action: z.enum(['retry', 'skip', 'fail']), note: z.string().trim().min(1).max(2000).optional() }),
        response: { 200: z.object({ session: sessionSchema }) },
      },
    },
    async (request) => {
      const userId = principalOf(request).user.id;
      if (!(await sessions.owns(userId, request.params.id))) throw new AppError('SESSION_NOT_FOUND');
      await runner.resolve(userId, request.params.id, request.body);
      return { session: await sessions.get(userId, request.params.id) };
    },
  );

  app.post(
    '/v1/sessions/:id/cancel',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Stop the turn in progress; the session stays usable',
        params: idParams,
        response: { 200: z.object({ cancelled: z.boolean() }) },
      },
    },
    async (request) => {
      if (!(await sessions.owns(principalOf(request).user.id, request.params.id))) throw new AppError('SESSION_NOT_FOUND');
      return { cancelled: await runner.cancel(request.params.id) };
    },
  );
};
