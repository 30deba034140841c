import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';

/**
 * How much of a refused body is read and thrown away, past what was read when the answer went
 * out. Enough for a client that sends a file somewhat over a limit to finish and read the answer;
 * past it, the connection is cut.
 */
export const maxDrainedBytes = 16 * 1024 * 1024;

/**
 * Lets a client that is still sending its body read the answer it got early (413 for a body over
 * the limit, 401, 429, 404…).
 *
 * Closing the connection as soon as the answer is written, as Fastify asks after a refused body,
 * leaves the client's further bytes unread, and the kernel answers them with a reset that often
 * reaches the client before it has read the answer: it sees EPIPE or "connection reset" instead.
 * So the connection stays open while the rest of the body is read and discarded (nothing is kept),
 * up to `maxDrainedBytes` and within the request timeout (HTTP_REQUEST_TIMEOUT_MS, which runs
 * until a body has been received): past either, the connection is cut. A body that ends within
 * them leaves the connection reusable.
 */
export function installBodyDrain(app: FastifyInstance, options: { maxBytes: number } = { maxBytes: maxDrainedBytes }): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const raw = request.raw;
    if (raw.complete || !hasBody(raw)) return payload;
    reply.header('connection', 'keep-alive');
    drain(raw, options.maxBytes);
    return payload;
  });
}

/** Connections whose answer went out while the rest of its body is being discarded. */
const draining = new WeakSet<Duplex>();

/** Whether the connection is discarding the body of a request already answered: nothing more may be written to it. */
export function isDraining(socket: Duplex): boolean {
  return draining.has(socket);
}

function hasBody(request: IncomingMessage): boolean {
  return Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
}

function drain(request: IncomingMessage, maxBytes: number): void {
  let discarded = 0;
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) {
      stop();
      request.socket.destroy();
    }
  };
  const stop = () => {
    draining.delete(request.socket);
    request.off('data', onData);
    request.off('end', stop);
    request.off('close', stop);
  };
  draining.add(request.socket);
  request.on('data', onData);
  request.once('end', stop);
  request.once('close', stop);
  request.resume();
}
