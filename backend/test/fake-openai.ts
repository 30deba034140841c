import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hashingEmbedding } from '../src/providers/local-hashing-embedder.ts';

export interface FakeOpenAi {
  url: string;
  /** Every embeddings request body received. */
  requests: Array<{ model: string; input: string[] }>;
  /** The Authorization header of every embeddings request, in the same order (undefined: none sent). */
  authorizations: Array<string | undefined>;
  /** Answers to give before answering normally: a status and optional headers, first in first out. */
  failures: Array<{ status: number; headers?: Record<string, string> }>;
  /** When set, every request fails with this status. */
  alwaysFail: number | undefined;
  /** When set, a request with an input containing `text` is answered after `ms`. */
  slow: { text: string; ms: number } | undefined;
  close(): Promise<void>;
}

/**
 * A local server that speaks OpenAI's embeddings API (POST /v1/embeddings), including its error
 * shape. Vectors are deterministic: the hashing embedding at the requested model's dimension. It
 * wants the key `test-key`, unless it is `keyless` (as a local Ollama is), when it takes any.
 */
export async function startFakeOpenAi(dimensions = 1536, options: { keyless?: boolean } = {}): Promise<FakeOpenAi> {
  const fake: Omit<FakeOpenAi, 'url' | 'close'> = {
    requests: [],
    authorizations: [],
    failures: [],
    alwaysFail: undefined,
    slow: undefined,
  };
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        response.writeHead(status, { 'content-type': 'application/json', ...headers });
        response.end(JSON.stringify(payload));
      };
      if (request.method !== 'POST' || request.url !== '/v1/embeddings')
        return send(404, { error: { message: 'Not found', type: 'invalid_request_error' } });
      if (!options.keyless && request.headers.authorization !== 'Bearer test-key')
        return send(401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } });
      const parsed = JSON.parse(body) as { model: string; input: string[] | string };
      const input = [parsed.input].flat();
      fake.requests.push({ model: parsed.model, input });
      fake.authorizations.push(request.headers.authorization);
      const failure = fake.alwaysFail !== undefined ? { status: fake.alwaysFail } : fake.failures.shift();
      if (failure) {
        const type = failure.status === 429 ? 'rate_limit_exceeded' : 'server_error';
        return send(failure.status, { error: { message: `Simulated ${failure.status}`, type, code: type } }, failure.headers);
      }
      const answer = () =>
        send(200, {
          object: 'list',
          data: input.map((text, index) => ({ object: 'embedding', index, embedding: hashingEmbedding(text, dimensions) })),
          model: parsed.model,
          usage: { prompt_tokens: input.length, total_tokens: input.length },
        });
      const slow = fake.slow;
      if (slow && input.some((text) => text.includes(slow.text))) setTimeout(answer, slow.ms);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake as FakeOpenAi, {
    url: `http://127.0.0.1:${port}/v1`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
