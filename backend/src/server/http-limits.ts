import http from 'node:http';
import type { Duplex } from 'node:stream';
import proxyAddr from '@fastify/proxy-addr';
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
export function httpServerOptions(
  limits: HttpLimits,
): Pick<FastifyServerOptions, 'requestTimeout' | 'clientErrorHandler'> & { http: http.ServerOptions } {
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
 * Caps open connections: in all (Node closes any past the cap as it arrives), and per client
 * address, so that one client holding connections (sending its headers slowly, reconnecting as
 * each times out) cannot take them all from everyone else. Connections from an address that
 * `TRUST_PROXY` trusts are not counted per address: behind a proxy every user has its address, and
 * capping its clients is the proxy's job. With `TRUST_PROXY` true or a hop count, every direct peer
 * is taken to be a proxy, so no address is capped. Refusals are logged at most once a minute.
 */
export function installConnectionCap(app: FastifyInstance, limits: HttpLimits, trustProxy: Config['trustProxy']): void {
  app.server.maxConnections = limits.maxConnections;
  const warnAll = onceAMinute();
  const warnAddress = onceAMinute();
  app.server.on('drop', () =>
    warnAll(() => app.log.warn({ maxConnections: limits.maxConnections }, 'refusing connections: HTTP_MAX_CONNECTIONS are open')),
  );
  const trusted = trustedPeer(trustProxy);
  const perAddress = new Map<string, number>();
  app.server.on('connection', (socket: Duplex & { remoteAddress?: string }) => {
    const address = socket.remoteAddress;
    if (address === undefined || trusted(address)) return;
    const open = perAddress.get(address) ?? 0;
    if (open >= limits.maxConnectionsPerAddress) {
      socket.destroy();
      warnAddress(() =>
        app.log.warn(
          { address, maxConnectionsPerAddress: limits.maxConnectionsPerAddress },
          'refusing connections: HTTP_MAX_CONNECTIONS_PER_ADDRESS are open from one address',
        ),
      );
      return;
    }
    perAddress.set(address, open + 1);
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
  });
}

/** Whether a directly connected peer is a proxy `TRUST_PROXY` trusts, as Fastify decides it for X-Forwarded-For (hop 0). */
function trustedPeer(trustProxy: Config['trustProxy']): (address: string) => boolean {
  if (typeof trustProxy === 'boolean') return () => trustProxy;
  const trusts = typeof trustProxy === 'function' ? trustProxy : proxyAddr.compile(trustProxy);
  return (address) => trusts(address, 0);
}

function onceAMinute(): (log: () => void) => void {
  let loggedAt = 0;
  return (log) => {
    if (Date.now() - loggedAt < 60_000) return;
    loggedAt = Date.now();
    log();
  };
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
    const body = JSON.stringify({
      error: code ? { code, message: errorCodes[code].message } : { code: 'VALIDATION_FAILED', message: 'The request is not valid HTTP.' },
    });
    const status = code ? errorCodes[code].status : 400;
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
