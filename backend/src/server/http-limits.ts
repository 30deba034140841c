import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Config } from '../config.ts';
import { errorCodes, type AppErrorCode } from '../errors.ts';
import { isDraining } from './body-drain.ts';

type HttpLimits = Config['http'];

/**
 * The HTTP server's time limits, as Fastify options. Node's request timeout runs from a request's
 * first byte until its body has been received, and no longer: an answer that takes long to produce
 * (a `?wait=true` turn) or never ends (an event stream, a WebSocket, which leaves HTTP at the
 * upgrade) is not cut by it; those keep their own limits. A client too slow to send its request
 * gets 408 and its connection closes. Idle kept-alive connections close after Fastify's
 * keep-alive timeout (72 s).
 */
export function httpServerOptions(limits: HttpLimits): Pick<FastifyServerOptions, 'requestTimeout' | 'clientErrorHandler'> & { http: http.ServerOptions } {
  return {
    requestTimeout: limits.requestTimeoutMs,
    http: {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      // Node looks for expired requests this often (30 s by default, which would let a 20 s
      // headers timeout run to 50 s).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    clientErrorHandler: answerClientError,
  };
}

/**
 * Caps open connections (Node closes any past the cap as it arrives), and says so in the log at
 * most once a minute.
 */
export function installConnectionCap(app: FastifyInstance, limits: HttpLimits): void {
  app.server.maxConnections = limits.maxConnections;
  let warnedAt = 0;
  app.server.on('drop', () => {
    if (Date.now() - warnedAt < 60_000) return;
    warnedAt = Date.now();
    app.log.warn({ maxConnections: limits.maxConnections }, 'refusing connections: HTTP_MAX_CONNECTIONS are open');
  });
}

const clientErrorCodes: Record<string, AppErrorCode> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
};

/**
 * Answers a request Node refused before Fastify saw it (too slow, headers too large, not HTTP) in
 * our error format, then closes the connection. Nothing is written once an answer has begun, or
 * has been given to a request whose body is still being discarded: it would read as the answer to
 * another request.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const answering = (socket as Duplex & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (socket.writable && !answering?.headersSent && !isDraining(socket)) {
    const code = clientErrorCodes[error.code ?? ''];
    const body = JSON.stringify({ error: code ? { code, message: errorCodes[code].message } : { code: 'VALIDATION_FAILED', message: 'The request is not valid HTTP.' } });
    const status = code ? errorCodes[code].status : 400;
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
