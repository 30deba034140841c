import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatCompletions, type FakeChatCompletions } from '../../test/fake-chat-completions.ts';
import { startServer, type ServerProcess } from '../../test/server-process.ts';
import { openSocket } from '../../test/ws-client.ts';

/**
 * The server as it runs (its own process, listening on 127.0.0.1): how long a client may take to
 * send a request, how many connections it may hold, and whether a client still sending a refused
 * body reads the answer. Short limits are set through the configuration.
 */
describe('connection limits of the server process', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-http-limits-'));
  const requestTimeoutMs = 1500;
  const headersTimeoutMs = 1000;
  const maxConnections = 24;
  let server: ServerProcess;
  let model: FakeChatCompletions;
  let token = '';
  let port = 0;

  beforeAll(async () => {
    model = await startFakeChatCompletions();
    server = await startServer({
      AGENTRY_DATA_DIR: dataDir,
      HTTP_REQUEST_TIMEOUT_MS: String(requestTimeoutMs),
      HTTP_HEADERS_TIMEOUT_MS: String(headersTimeoutMs),
      HTTP_MAX_CONNECTIONS: String(maxConnections),
      BODY_LIMIT_BYTES: String(1024 * 1024),
      KB_MAX_UPLOAD_BYTES: String(1024 * 1024),
      OPENAI_BASE_URL: model.url,
      OPENAI_API_KEY: 'sk-test',
    });
    token = /^Admin token: (agt_\S+)$/m.exec(server.output())![1]!;
    port = Number(new URL(server.url).port);
  }, 60_000);
  afterAll(async () => {
    server?.child.kill('SIGKILL');
    await server?.exited;
    await model?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const api = (method: string, url: string, body?: unknown) =>
    fetch(`${server.url}${url}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  /** Sends `head`, then `drip` one byte at a time `everyMs` apart; resolves with what came back and when the server closed. */
  const slowClient = (head: string, drip: string, everyMs: number) =>
    new Promise<{ answer: string; closedAfterMs: number }>((resolve) => {
      const started = Date.now();
      const socket = net.connect(port, '127.0.0.1');
      let answer = '';
      let sent = 0;
      socket.on('connect', () => socket.write(head));
      const timer = setInterval(() => sent < drip.length && !socket.destroyed && socket.write(drip[sent++]!), everyMs);
      socket.on('data', (chunk) => (answer += chunk.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ answer, closedAfterMs: Date.now() - started });
      });
    });

  describe('the request timeout', () => {
    it('answers 408 REQUEST_TIMEOUT and closes a connection whose body drips in', async () => {
      const head = `POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n`;
      const { answer, closedAfterMs } = await slowClient(head, `{"email":"${'d'.repeat(180)}@example.test"}`, 300);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toContain('"code":"REQUEST_TIMEOUT"');
      expect(closedAfterMs).toBeGreaterThanOrEqual(requestTimeoutMs - 100);
      expect(closedAfterMs).toBeLessThan(requestTimeoutMs + 1500);
    });

    it('closes a connection whose headers drip in', async () => {
      const { answer, closedAfterMs } = await slowClient('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: '.padEnd(200, 'z'), 200);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(closedAfterMs).toBeLessThan(headersTimeoutMs + 1500);
    });

    it('does not cut answers that take longer: a ?wait=true turn, an event stream, a WebSocket', async () => {
      const agent = (await (await api('POST', '/v1/agents', { name: 'Slow', model: 'openai:gpt-4o-mini' })).json()) as {
        agent: { id: string };
      };
      const { session } = (await (await api('POST', '/v1/sessions', { agentId: agent.agent.id })).json()) as {
        session: { conversationId: string };
      };
      // About 2.5 s of answer, streamed slowly: longer than the request timeout.
      model.replies.push({ kind: 'text', text: 'A slow answer, word by word.', pieceLength: 3, pieceDelayMs: 250 });

      const stream = await fetch(`${server.url}/v1/events/stream?topics=knowledge`, { headers: { authorization: `Bearer ${token}` } });
      expect(stream.status).toBe(200);
      const socket = openSocket(`ws://127.0.0.1:${port}/v1/ws`, { headers: { authorization: `Bearer ${token}` } });
      await socket.next((f) => f['type'] === 'ready');

      const started = Date.now();
      const turn = await api('POST', `/v1/conversations/${session.conversationId}/messages?wait=true`, { content: 'Take your time.' });
      expect(Date.now() - started).toBeGreaterThan(requestTimeoutMs);
      expect(turn.status).toBe(200);
      expect(((await turn.json()) as { turn: { status: string } }).turn.status).toBe('completed');

      // Both still deliver.
      socket.send({ type: 'ping' });
      await socket.next((f) => f['type'] === 'pong');
      socket.ws.close();
      const added = await api('POST', '/v1/knowledge/documents', { title: 'Late', content: 'Written after the request timeout passed.' });
      expect(added.status).toBe(202);
      const reader = stream.body!.getReader();
      let text = '';
      while (!text.includes('kb.document.status')) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
    });
  });

  it('refuses connections past HTTP_MAX_CONNECTIONS, and serves again once they close', async () => {
    // Opened at once: idle ones are closed by the headers timeout, so they must all be open together.
    const sockets = Array.from({ length: maxConnections + 5 }, () => {
      const socket = net.connect(port, '127.0.0.1');
      const state = { socket, closed: false };
      socket.on('error', () => undefined);
      socket.on('close', () => (state.closed = true));
      socket.resume(); // to hear the server's end
      return state;
    });
    await new Promise((resolve) => setTimeout(resolve, Math.min(300, headersTimeoutMs / 2)));
    const open = sockets.filter((s) => !s.closed).length;
    for (const { socket } of sockets) socket.destroy();
    expect(open).toBeLessThanOrEqual(maxConnections);
    expect(open).toBeGreaterThan(maxConnections / 2);
    await expect.poll(async () => (await fetch(`${server.url}/health`).catch(() => undefined))?.status).toBe(200);
  });

  describe('an oversized body', () => {
    const body = Buffer.alloc(8 * 1024 * 1024, 'a'); // eight times BODY_LIMIT_BYTES

    /** Node's http client: the whole body is written whatever comes back. */
    const nodePost = (payload: Buffer) =>
      new Promise<{ status?: number; code?: string; error?: string }>((resolve) => {
        const request = http.request(
          `${server.url}/v1/users`,
          {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': payload.length },
          },
          (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => (text += chunk.toString()));
            response.on('end', () =>
              resolve({ status: response.statusCode, code: (JSON.parse(text) as { error?: { code: string } }).error?.code }),
            );
          },
        );
        request.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
        request.end(payload);
      });

    it('answers 413 PAYLOAD_TOO_LARGE to Node’s http client and to fetch, every time, instead of a reset', async () => {
      for (let i = 0; i < 10; i++)
        expect(await nodePost(body), `node attempt ${i}`).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
      for (let i = 0; i < 10; i++) {
        const response = await fetch(`${server.url}/v1/users`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body,
        }).catch((error: Error) => ({
          status: 0,
          json: async () => ({ error: { code: String((error.cause as Error | undefined)?.message ?? error.message) } }),
        }));
        expect(
          { status: response.status, code: ((await response.json()) as { error: { code: string } }).error.code },
          `fetch attempt ${i}`,
        ).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
      }
      // Streamed without a length: refused once the limit is read.
      const stream = () =>
        new ReadableStream({
          start: (controller) => {
            for (let at = 0; at < body.length; at += 65_536) controller.enqueue(body.subarray(at, at + 65_536));
            controller.close();
          },
        });
      for (let i = 0; i < 10; i++) {
        const response = await fetch(`${server.url}/v1/users`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: stream(),
          duplex: 'half',
        } as RequestInit);
        expect(response.status, `streamed fetch attempt ${i}`).toBe(413);
      }
      // A document upload over KB_MAX_UPLOAD_BYTES, refused while its multipart body is read.
      for (let i = 0; i < 10; i++) {
        const form = new FormData();
        form.append('file', new Blob([body], { type: 'text/plain' }), 'big.txt');
        const response = await fetch(`${server.url}/v1/knowledge/documents`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
          body: form,
        });
        expect(response.status, `upload attempt ${i}`).toBe(413);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
      }
      expect((await api('GET', '/health')).status).toBe(200);
    });

    it('reads at most a bounded amount of a refused body: a client that keeps sending is cut off', async () => {
      const declared = 256 * 1024 * 1024;
      const result = await new Promise<{ answer: string; written: number }>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        const chunk = Buffer.alloc(256 * 1024, 'a');
        let answer = '';
        let written = 0;
        socket.on('data', (data) => (answer += data.toString()));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve({ answer, written }));
        socket.on('connect', async () => {
          socket.write(
            `POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`,
          );
          while (written < declared && !socket.destroyed) {
            written += chunk.length;
            if (!socket.write(chunk)) await new Promise((resume) => (socket.once('drain', resume), socket.once('close', resume)));
          }
        });
      });
      expect(result.answer).toMatch(/^HTTP\/1\.1 413 /);
      // 16 MiB drained after the answer, plus what the sockets' buffers held: far from all of it.
      expect(result.written).toBeLessThan(64 * 1024 * 1024);
    });

    it('closes a refused connection whose body stalls, within the request timeout', async () => {
      const head = `POST /v1/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n`;
      const { answer, closedAfterMs } = await slowClient(head, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 100);
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).not.toContain('HTTP/1.1 408'); // nothing more is written once an answer went out
      expect(closedAfterMs).toBeLessThan(requestTimeoutMs + 1500);
    });
  });
});
