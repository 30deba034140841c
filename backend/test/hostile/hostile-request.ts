import http from 'node:http';
import type { HostileRequest } from './openapi-cases.ts';

/** What came back: a status and body, or why nothing did. */
export interface Answer {
  status?: number;
  text: string;
  /** Until the status line arrived (or the request gave up). */
  ms: number;
  requestId?: string;
  /** No answer: `timeout`, or the socket error (ECONNRESET when a server drops a request mid-body). */
  error?: string;
}

const maxBodyBytes = 4 * 1024 * 1024;

/**
 * Sends one request over a real socket with node:http, which (unlike fetch) sends a body with any
 * method and any bytes. Never waits past `timeoutMs`; an event stream counts as answered once its
 * headers arrive.
 */
export function sendRequest(base: string, request: HostileRequest, options: { timeoutMs: number; agent: http.Agent }): Promise<Answer> {
  const started = performance.now();
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    let settled = false;
    let status: number | undefined;
    let headersMs = 0;
    const finish = (answer: Omit<Answer, 'ms'> & { ms?: number }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ms: Math.round(performance.now() - started), ...answer });
    };
    const headers: Record<string, string | number> = { ...request.headers };
    if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
    const req = http.request({ hostname, port, method: request.method, path: request.url, headers, agent: options.agent }, (res) => {
      status = res.statusCode;
      headersMs = Math.round(performance.now() - started);
      const requestId = res.headers['x-request-id'] as string | undefined;
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        res.destroy();
        return finish({ status, text: '', ms: headersMs, ...(requestId ? { requestId } : {}) });
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= maxBodyBytes) chunks.push(chunk);
      });
      res.on('end', () =>
        finish({ status, text: Buffer.concat(chunks).toString('utf8'), ms: headersMs, ...(requestId ? { requestId } : {}) }),
      );
      res.on('error', (error) =>
        finish({
          status,
          text: Buffer.concat(chunks).toString('utf8'),
          ms: headersMs,
          error: (error as NodeJS.ErrnoException).code ?? error.message,
        }),
      );
      res.on('close', () =>
        finish({ status, text: Buffer.concat(chunks).toString('utf8'), ms: headersMs, ...(requestId ? { requestId } : {}) }),
      );
    });
    const timer = setTimeout(() => {
      finish({ ...(status === undefined ? {} : { status }), text: '', error: 'timeout' });
      req.destroy();
    }, options.timeoutMs);
    // A server may answer (413) and close while the body is still going out: the answer counts.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (status === undefined) finish({ text: '', error: error.code ?? error.message });
    });
    if (request.body !== undefined) req.end(request.body);
    else req.end();
  });
}
