import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer, given first in first out; then a text echoing the user. */
export type AnthropicReply =
  | { kind: 'text'; text: string }
  /** A `tool_use` block whose JSON input streams in `input_json_delta` pieces, after optional text. */
  | { kind: 'tool-call'; name: string; input: unknown; text?: string }
  /** An HTTP error in the API's shape: 429 `rate_limit_error`, 529 `overloaded_error`, others `api_error`. */
  | { kind: 'fail'; status: number; headers?: Record<string, string> };

export interface AnthropicRequest {
  body: {
    model: string;
    max_tokens: number;
    stream?: boolean;
    system?: unknown;
    messages: Array<{ role: 'user' | 'assistant'; content: unknown }>;
    tools?: Array<{ name: string; description?: string; input_schema: unknown }>;
  };
  apiKey: string | undefined;
  version: string | undefined;
}

export interface FakeAnthropic {
  /** Base URL including `/v1`, as ANTHROPIC_BASE_URL. */
  url: string;
  requests: AnthropicRequest[];
  replies: AnthropicReply[];
  /** What every answer reports as used. */
  usage: { input_tokens: number; output_tokens: number };
  close(): Promise<void>;
}

/**
 * A local server that speaks Anthropic's Messages API (POST /v1/messages), written from its API
 * reference: the streamed events (`message_start` carrying input usage, `content_block_start` of
 * `text` or `tool_use`, `text_delta` and `input_json_delta` deltas, `content_block_stop`, a
 * `ping`, `message_delta` with the stop reason and output usage, `message_stop`), the `x-api-key`
 * and `anthropic-version` headers, and errors as `{type: 'error', error: {type, message}}`.
 * It wants the key `test-key`.
 */
export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const fake: Omit<FakeAnthropic, 'url' | 'close'> = { requests: [], replies: [], usage: { input_tokens: 120, output_tokens: 30 } };
  let messages = 0;
  const server = http.createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    request.on('end', () => {
      const fail = (status: number, type: string, message: string, headers: Record<string, string> = {}) => {
        response.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${messages}`, ...headers });
        response.end(JSON.stringify({ type: 'error', error: { type, message } }));
      };
      if (request.method !== 'POST' || request.url !== '/v1/messages') return fail(404, 'not_found_error', 'Not found');
      const body = JSON.parse(raw) as AnthropicRequest['body'];
      const apiKey = request.headers['x-api-key'] as string | undefined;
      fake.requests.push({ body, apiKey, version: request.headers['anthropic-version'] as string | undefined });
      if (apiKey !== 'test-key') return fail(401, 'authentication_error', 'invalid x-api-key');
      const reply = fake.replies.shift() ?? { kind: 'text', text: `You said: ${lastUserText(body)}` };
      if (reply.kind === 'fail') {
        const type = reply.status === 429 ? 'rate_limit_error' : reply.status === 529 ? 'overloaded_error' : 'api_error';
        return fail(reply.status, type, type === 'overloaded_error' ? 'Overloaded' : `Simulated ${reply.status}`, reply.headers);
      }
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const send = (type: string, data: Record<string, unknown>) =>
        response.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      send('message_start', {
        message: {
          id: `msg_${++messages}`,
          type: 'message',
          role: 'assistant',
          content: [],
          model: body.model,
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: fake.usage.input_tokens, output_tokens: 1 },
        },
      });
      let index = 0;
      if (reply.text) {
        send('content_block_start', { index, content_block: { type: 'text', text: '' } });
        send('ping', {});
        for (const piece of pieces(reply.text, 8)) send('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
        send('content_block_stop', { index });
        index++;
      }
      if (reply.kind === 'tool-call') {
        send('content_block_start', { index, content_block: { type: 'tool_use', id: `toolu_${messages}`, name: reply.name, input: {} } });
        for (const piece of pieces(JSON.stringify(reply.input), 6))
          send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } });
        send('content_block_stop', { index });
      }
      send('message_delta', {
        delta: { stop_reason: reply.kind === 'tool-call' ? 'tool_use' : 'end_turn', stop_sequence: null },
        usage: { output_tokens: fake.usage.output_tokens },
      });
      send('message_stop', {});
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake as FakeAnthropic, {
    url: `http://127.0.0.1:${port}/v1`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

function lastUserText(body: AnthropicRequest['body']): string {
  const content = body.messages.findLast((m) => m.role === 'user')?.content;
  if (typeof content === 'string') return content;
  return Array.isArray(content) ? content.map((part: { text?: string }) => part.text ?? '').join('') : '';
}

function pieces(text: string, length: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += length) out.push(text.slice(i, i + length));
  return out;
}
