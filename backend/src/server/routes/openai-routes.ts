import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { completionRequestSchema, type ChatCompletions, type CompletionTurn } from '../../chat-completions/index.ts';
import type { Config } from '../../config.ts';
import { AppError } from '../../errors.ts';
import { principalOf } from '../auth.ts';
import { toAppError } from '../error-handler.ts';

/** The header that names a session, in a request (to continue it) and in every answer that ran a turn. */
const sessionHeader = 'x-agentry-session';
const keepAliveMs = 15_000;

const usageSchema = z.object({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number() });
const completionSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number(),
      message: z.object({ role: z.literal('assistant'), content: z.string(), refusal: z.string().nullable() }),
      finish_reason: z.enum(['stop', 'length']),
      logprobs: z.object({}).loose().nullable(),
    }),
  ),
  usage: usageSchema,
});
const openaiErrorSchema = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string() }),
});

/** OpenAI's error types, by HTTP status: what its clients map to their error classes. */
function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** The request field an error is about, as OpenAI's `param` names it. */
function paramOf(error: AppError): string | null {
  if (error.code === 'MODEL_NOT_FOUND') return 'model';
  if (error.code === 'UNSUPPORTED_PARAMETER') return (error.details as { param: string }).param;
  if (error.code === 'VALIDATION_FAILED') {
    const path = (error.details as { issues?: Array<{ path: string }> } | undefined)?.issues?.[0]?.path;
    return path ? path.replace(/^body\./, '') : null;
  }
  return null;
}

/**
 * An AppError in OpenAI's error shape: `type` is OpenAI's class for the status, `param` the field
 * at fault, and `code` Agentry's own code from errors.ts (`MODEL_NOT_FOUND`, `SESSION_BUSY`), the
 * same stable code every other route answers with.
 */
export function toOpenAIError(error: AppError): z.infer<typeof openaiErrorSchema> {
  return { error: { message: error.message, type: errorType(error.status), param: paramOf(error), code: error.code } };
}

/**
 * The OpenAI-compatible API: `POST /v1/openai/chat/completions` and `GET /v1/openai/models`,
 * with an Agentry token as the API key. Encapsulated with its own error and not-found handlers,
 * so every refusal here (the auth hook's, the body parser's and the rate limiter's included)
 * answers in OpenAI's error shape, while the rest of the API keeps its own.
 */
export const openaiRoutes: FastifyPluginAsyncZod<{ completions: ChatCompletions; config: Config }> = async (
  app,
  { completions, config },
) => {
  app.setErrorHandler((thrown: unknown, request, reply) => {
    const error = toAppError(thrown);
    if (error.status >= 500) request.log.error({ err: thrown, code: error.code }, 'request failed');
    else request.log.info({ code: error.code }, 'request rejected');
    return reply.code(error.status).type('application/json; charset=utf-8').send(toOpenAIError(error));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(
        toOpenAIError(
          new AppError('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}: this API has /chat/completions and /models.`),
        ),
      ),
  );

  app.get(
    '/models',
    {
      schema: {
        tags: ['openai'],
        summary: 'OpenAI-compatible: your agents (by slug) and templates, as models',
        response: {
          200: z.object({
            object: z.literal('list'),
            data: z.array(z.object({ id: z.string(), object: z.literal('model'), created: z.number(), owned_by: z.string() })),
          }),
        },
      },
    },
    async (request) => ({ object: 'list' as const, data: await completions.listModels(principalOf(request).user.id) }),
  );

  app.post(
    '/chat/completions',
    {
      config: { rateLimitGroup: 'promptGeneration' },
      schema: {
        tags: ['openai'],
        summary:
          'OpenAI-compatible chat completion: the messages become a turn of a session (x-agentry-session names one to continue); stream: true answers server-sent chunks',
        headers: z.object({ [sessionHeader]: z.string().max(100).optional() }).loose(),
        body: completionRequestSchema,
        response: { 200: completionSchema, '4xx': openaiErrorSchema, '5xx': openaiErrorSchema },
      },
    },
    async (request, reply) => {
      const turn = await completions.start(principalOf(request).user, request.body, { sessionId: request.headers[sessionHeader] });
      reply.header(sessionHeader, turn.sessionId);
      if (!request.body.stream) return turn.result();
      streamTurn(turn, request, reply, {
        includeUsage: request.body.stream_options?.include_usage === true,
        maxBufferedBytes: config.websocket.maxBufferedBytes,
      });
      return reply;
    },
  );
};

/**
 * Writes the turn's chunks as server-sent events, then `data: [DONE]`; a failure after the
 * headers is one `data: {"error": …}` event (what OpenAI's clients read as an error). Bounded: the
 * turn's wait (CHAT_COMPLETIONS_MAX_WAIT_MS) in time, and a reader more than WS_MAX_BUFFERED_BYTES
 * behind is cut off. A client that goes away stops only the stream; the turn goes on.
 */
function streamTurn(
  turn: CompletionTurn,
  request: FastifyRequest,
  reply: FastifyReply,
  options: { includeUsage: boolean; maxBufferedBytes: number },
): void {
  const raw = reply.hijack().raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
    [sessionHeader]: turn.sessionId,
  });
  raw.flushHeaders();
  const write = (data: string): boolean => {
    if (raw.destroyed || raw.writableEnded) return false;
    if (raw.writableLength > options.maxBufferedBytes) {
      raw.destroy();
      return false;
    }
    raw.write(`data: ${data}\n\n`);
    return true;
  };
  const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), keepAliveMs);
  raw.once('close', () => {
    clearInterval(keepAlive);
    turn.close();
  });
  void (async () => {
    try {
      for await (const chunk of turn.chunks({ includeUsage: options.includeUsage })) if (!write(JSON.stringify(chunk))) break;
      write('[DONE]');
    } catch (thrown) {
      const error = toAppError(thrown);
      if (error.status >= 500) request.log.error({ err: thrown, code: error.code }, 'chat completion stream failed');
      write(JSON.stringify(toOpenAIError(error)));
    } finally {
      turn.close();
      raw.end();
    }
  })();
}
