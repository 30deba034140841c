import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';

/** One scripted answer; answers are given first in first out, then `text` echoing the user. */
export type ChatReply =
  /** Streams the text in pieces of `pieceLength` characters, `pieceDelayMs` apart (at once by default). */
  | { kind: 'text'; text: string; pieceLength?: number; pieceDelayMs?: number }
  /** Streams one tool call, its JSON arguments in pieces of `pieceLength` characters. */
  | { kind: 'tool-call'; name: string; arguments: unknown; id?: string; pieceLength?: number }
  /** Answers an error with this status and headers, in OpenAI's error shape. */
  | { kind: 'fail'; status: number; headers?: Record<string, string> }
  /** Starts streaming the text, then destroys the socket after `afterChunks` chunks. */
  | { kind: 'cut'; text: string; afterChunks: number }
  /** Starts streaming the text, then sends an error event (as OpenAI does when overloaded) and ends. */
  | { kind: 'error-event'; text: string; afterChunks: number }
  /** Sends the response headers (and streams `text`, if given), then nothing, until the client gives up. */
  | { kind: 'stall'; text?: string };

export interface ChatRequest {
  body: {
    model: string;
    stream?: boolean;
    stream_options?: { include_usage?: boolean };
    messages: Array<{ role: string; content?: unknown; tool_calls?: unknown; tool_call_id?: string }>;
    tools?: Array<{ type: 'function'; function: { name: string; description?: string; parameters?: unknown } }>;
    max_tokens?: number;
    max_completion_tokens?: number;
  };
  authorization: string | undefined;
  /** Milliseconds since the epoch when the request arrived. */
  at: number;
  /** The prompt's tokens as this server counts them (see `promptTokens`). */
  promptTokens: number;
}

export interface FakeChatCompletions {
  /** Base URL including `/v1`, as a provider's baseURL. */
  url: string;
  requests: ChatRequest[];
  replies: ChatReply[];
  /** When set, every request must carry `Authorization: Bearer <apiKey>` or gets 401. */
  apiKey: string | undefined;
  /** Answers a request when no scripted reply is queued (after `replies`, before the echo). */
  respond: ((body: ChatRequest['body']) => ChatReply | undefined) | undefined;
  close(): Promise<void>;
}

/**
 * A local server that speaks OpenAI's Chat Completions API (POST /v1/chat/completions), streamed
 * as server-sent events the way OpenAI streams them (role chunk, content or tool-call deltas, a
 * finish chunk, a usage chunk when `stream_options.include_usage`, then `[DONE]`), or as one JSON
 * body when `stream` is false. Failures are scripted: status codes with headers, a connection cut
 * mid-stream, and a stall after the headers.
 */
export async function startFakeChatCompletions(
  options: {
    apiKey?: string;
    /**
     * The context window, as a real server enforces it: a request whose prompt tokens plus its
     * max_tokens pass it is refused with 400 `context_length_exceeded`, as OpenAI and vLLM answer.
     */
    contextWindow?: number;
  } = {},
): Promise<FakeChatCompletions> {
  const fake: Omit<FakeChatCompletions, 'url' | 'close'> = { requests: [], replies: [], apiKey: options.apiKey, respond: undefined };
  const stalled = new Set<http.ServerResponse>();
  let completions = 0;

  const server = http.createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    request.on('end', async () => {
      const sendJson = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        response.writeHead(status, { 'content-type': 'application/json', ...headers });
        response.end(JSON.stringify(payload));
      };
      if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
        return sendJson(404, { error: { message: 'Not found', type: 'invalid_request_error' } });
      }
      const body = JSON.parse(raw) as ChatRequest['body'];
      const prompt = promptTokens(body);
      fake.requests.push({ body, authorization: request.headers.authorization, at: Date.now(), promptTokens: prompt });
      if (fake.apiKey && request.headers.authorization !== `Bearer ${fake.apiKey}`) {
        return sendJson(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } });
      }
      const asked = prompt + (body.max_tokens ?? body.max_completion_tokens ?? 0);
      if (options.contextWindow !== undefined && asked > options.contextWindow) {
        const message = `This model's maximum context length is ${options.contextWindow} tokens. However, you requested ${asked} tokens. Please reduce the length of the messages.`;
        return sendJson(400, { error: { message, type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } });
      }
      const reply = fake.replies.shift() ?? fake.respond?.(body) ?? { kind: 'text', text: `You said: ${lastUserText(body)}` };
      const id = `chatcmpl-${++completions}`;

      if (reply.kind === 'fail') {
        const type = reply.status === 429 ? 'rate_limit_exceeded' : 'server_error';
        return sendJson(reply.status, { error: { message: `Simulated ${reply.status}`, type, code: type } }, reply.headers);
      }
      if (reply.kind === 'stall') {
        response.writeHead(200, { 'content-type': body.stream ? 'text/event-stream' : 'application/json' });
        response.flushHeaders();
        if (reply.text && body.stream) {
          for (const delta of streamChunks({ kind: 'text', text: reply.text }, false).slice(0, -1)) {
            response.write(
              `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_700_000_000, model: body.model, ...delta })}\n\n`,
            );
          }
        }
        stalled.add(response);
        response.on('close', () => stalled.delete(response));
        return;
      }
      if (!body.stream) return sendJson(200, completion(id, body.model, reply));

      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const chunks = streamChunks(reply, body.stream_options?.include_usage === true).map((delta) => ({
        id,
        object: 'chat.completion.chunk',
        created: 1_700_000_000,
        model: body.model,
        ...delta,
      }));
      if (reply.kind === 'cut') {
        for (const chunk of chunks.slice(0, reply.afterChunks)) response.write(`data: ${JSON.stringify(chunk)}\n\n`);
        // Let the written chunks reach the client, then drop the connection without a last chunk.
        setTimeout(() => response.socket?.destroy(), 20);
        return;
      }
      if (reply.kind === 'error-event') {
        for (const chunk of chunks.slice(0, reply.afterChunks)) response.write(`data: ${JSON.stringify(chunk)}\n\n`);
        response.write(
          `data: ${JSON.stringify({ error: { message: 'The server is overloaded', type: 'server_error', code: null, param: null } })}\n\n`,
        );
        return response.end('data: [DONE]\n\n');
      }
      const delayMs = reply.kind === 'text' ? (reply.pieceDelayMs ?? 0) : 0;
      for (const chunk of chunks) {
        response.write(`data: ${JSON.stringify(chunk)}\n\n`);
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
      response.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake as FakeChatCompletions, {
    url: `http://127.0.0.1:${port}/v1`,
    close: () => {
      for (const response of stalled) response.socket?.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

/**
 * A prompt's tokens in cl100k_base: each message's text (content, tool call names and arguments)
 * plus four for its framing, and the tool definitions as JSON. Close to what a server's chat
 * template makes of it; tests give their model a margin over it, as the server does not say.
 */
export function promptTokens(body: ChatRequest['body']): number {
  let tokens = body.tools ? countTokens(JSON.stringify(body.tools)) : 0;
  for (const message of body.messages) {
    const content = typeof message.content === 'string' ? message.content : (JSON.stringify(message.content) ?? '');
    tokens += countTokens(content) + (message.tool_calls ? countTokens(JSON.stringify(message.tool_calls)) : 0) + 4;
  }
  return tokens;
}

function lastUserText(body: ChatRequest['body']): string {
  const content = body.messages.findLast((m) => m.role === 'user')?.content;
  if (typeof content === 'string') return content;
  return Array.isArray(content) ? content.map((part: { text?: string }) => part.text ?? '').join('') : '';
}

function pieces(text: string, length: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += length) out.push(text.slice(i, i + length));
  return out;
}

type Delta = { choices: Array<{ index: number; delta: Record<string, unknown>; finish_reason: string | null }>; usage?: unknown };

function streamChunks(reply: Exclude<ChatReply, { kind: 'fail' | 'stall' }>, includeUsage: boolean): Delta[] {
  const choice = (delta: Record<string, unknown>, finish: string | null = null): Delta => ({
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const chunks: Delta[] = [choice({ role: 'assistant', content: '' })];
  let output: string;
  if (reply.kind === 'tool-call') {
    const args = JSON.stringify(reply.arguments);
    output = `${reply.name}${args}`;
    const [first = '', ...rest] = pieces(args, reply.pieceLength ?? 8);
    chunks.push(
      choice({
        tool_calls: [{ index: 0, id: reply.id ?? 'call_fake_1', type: 'function', function: { name: reply.name, arguments: first } }],
      }),
    );
    for (const piece of rest) chunks.push(choice({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
    chunks.push(choice({}, 'tool_calls'));
  } else {
    output = reply.text;
    for (const piece of pieces(reply.text, reply.kind === 'text' ? (reply.pieceLength ?? 6) : 6)) chunks.push(choice({ content: piece }));
    chunks.push(choice({}, 'stop'));
  }
  if (includeUsage) {
    const completionTokens = Math.ceil(output.length / 4);
    chunks.push({ choices: [], usage: { prompt_tokens: 11, completion_tokens: completionTokens, total_tokens: 11 + completionTokens } });
  }
  return chunks;
}

function completion(id: string, model: string, reply: Exclude<ChatReply, { kind: 'fail' | 'stall' }>) {
  const message =
    reply.kind === 'tool-call'
      ? {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: reply.id ?? 'call_fake_1', type: 'function', function: { name: reply.name, arguments: JSON.stringify(reply.arguments) } },
          ],
        }
      : { role: 'assistant', content: reply.text };
  return {
    id,
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message, finish_reason: reply.kind === 'tool-call' ? 'tool_calls' : 'stop' }],
    usage: { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 },
  };
}
