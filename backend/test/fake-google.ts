import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted answer, given first in first out; then a text echoing the user. */
export type GoogleReply =
  | { kind: 'text'; text: string }
  /** A `functionCall` part (Gemini sends a call whole, in one chunk), after optional text. */
  | { kind: 'tool-call'; name: string; args: Record<string, unknown>; text?: string }
  /** An HTTP error in the API's shape: 429 `RESOURCE_EXHAUSTED`, 503 `UNAVAILABLE`, others `INTERNAL`. */
  | { kind: 'fail'; status: number; headers?: Record<string, string> };

export interface GoogleRequest {
  model: string;
  body: {
    contents: Array<{ role: 'user' | 'model'; parts: Array<Record<string, unknown>> }>;
    systemInstruction?: unknown;
    tools?: Array<{ functionDeclarations?: Array<{ name: string; description?: string; parameters?: unknown }> }>;
    generationConfig?: unknown;
  };
  apiKey: string | undefined;
}

export interface FakeGoogle {
  /** Base URL including `/v1beta`, as GOOGLE_BASE_URL. */
  url: string;
  requests: GoogleRequest[];
  replies: GoogleReply[];
  /** What every answer reports in `usageMetadata`. */
  usage: { promptTokenCount: number; candidatesTokenCount: number };
  close(): Promise<void>;
}

const streamPath = /^\/v1beta\/models\/([^/:?]+):streamGenerateContent\?alt=sse$/;

/**
 * A local server that speaks the Gemini API's streaming call
 * (POST /v1beta/models/{model}:streamGenerateContent?alt=sse), written from its API reference:
 * each server-sent event is a GenerateContentResponse (`candidates[0].content.parts` with `text`
 * or `functionCall`), the last with `finishReason` and `usageMetadata`; the key comes in
 * `x-goog-api-key`; errors are `{error: {code, message, status}}`. It wants the key `test-key`.
 */
export async function startFakeGoogle(): Promise<FakeGoogle> {
  const fake: Omit<FakeGoogle, 'url' | 'close'> = { requests: [], replies: [], usage: { promptTokenCount: 140, candidatesTokenCount: 25 } };
  const server = http.createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    request.on('end', () => {
      const fail = (code: number, status: string, message: string, headers: Record<string, string> = {}) => {
        response.writeHead(code, { 'content-type': 'application/json; charset=UTF-8', ...headers });
        response.end(JSON.stringify({ error: { code, message, status } }));
      };
      const match = request.method === 'POST' ? streamPath.exec(request.url ?? '') : null;
      if (!match) return fail(404, 'NOT_FOUND', `Not found: ${request.method} ${request.url}`);
      const body = JSON.parse(raw) as GoogleRequest['body'];
      const apiKey = request.headers['x-goog-api-key'] as string | undefined;
      const model = decodeURIComponent(match[1]!);
      fake.requests.push({ model, body, apiKey });
      if (apiKey !== 'test-key') return fail(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.');
      const reply = fake.replies.shift() ?? { kind: 'text', text: `You said: ${lastUserText(body)}` };
      if (reply.kind === 'fail') {
        if (reply.status === 429) return fail(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).', reply.headers);
        return fail(reply.status, reply.status === 503 ? 'UNAVAILABLE' : 'INTERNAL', 'The model is overloaded.', reply.headers);
      }
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const send = (parts: Array<Record<string, unknown>>, last: boolean) => {
        const usageMetadata = {
          promptTokenCount: fake.usage.promptTokenCount,
          ...(last ? { candidatesTokenCount: fake.usage.candidatesTokenCount } : {}),
          totalTokenCount: fake.usage.promptTokenCount + (last ? fake.usage.candidatesTokenCount : 0),
        };
        const candidate = { content: { parts, role: 'model' }, index: 0, ...(last ? { finishReason: 'STOP' } : {}) };
        response.write(`data: ${JSON.stringify({ candidates: [candidate], usageMetadata, modelVersion: model })}\r\n\r\n`);
      };
      const text = reply.text ?? '';
      const textPieces = pieces(text, 10);
      if (reply.kind === 'text') textPieces.forEach((piece, i) => send([{ text: piece }], i === textPieces.length - 1));
      else {
        for (const piece of textPieces) send([{ text: piece }], false);
        send([{ functionCall: { name: reply.name, args: reply.args } }], true);
      }
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake as FakeGoogle, {
    url: `http://127.0.0.1:${port}/v1beta`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

function lastUserText(body: GoogleRequest['body']): string {
  const content = body.contents.findLast((c) => c.role === 'user');
  return (content?.parts ?? []).map((part) => (typeof part.text === 'string' ? part.text : '')).join('');
}

function pieces(text: string, length: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += length) out.push(text.slice(i, i + length));
  return out.length > 0 ? out : [''];
}
