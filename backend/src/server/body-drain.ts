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
 * How long a refused body is read and thrown away. Its own deadline, far shorter than the request
 * timeout (120 s by default): a refused client, an anonymous one answered 401 included, must not
 * hold a connection that long by sending slowly. 5 s lets a client on a link of 30 Mbit/s or more
 * send all of `maxDrainedBytes`; a slower one is cut, and may see a reset instead of the answer.
 */
export const maxDrainMs = 5000;

/**
 * Lets a client that is still sending its body read the answer it got early (413 for a body over
 * the limit, 401, 429, 404…).
 *
 * Closing the connection as soon as the answer is written, as Fastify asks after a refused body,
 * leaves the client's further bytes unread, and the kernel answers them with a reset that often
 * reaches the client before it has read the answer: it sees EPIPE or "connection reset" instead.
 * So the connection stays open while the rest of the body is read and discarded (nothing is kept),
 * up to `maxBytes` and for at most `maxMs`: past either, the connection is cut. A body that ends
 * within them leaves the connection reusable, unless the client sent `Connection: close`: then the
 * answer says `Connection: close` too, the server stops writing at once and closes the connection
 * when the body has ended (a lingering close).
 */
export function installBodyDrain(
  app: FastifyInstance,
  options: { maxBytes: number; maxMs: number } = { maxBytes: maxDrainedBytes, maxMs: maxDrainMs },
): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const raw = request.raw;
    if (raw.complete || !hasBody(raw)) return payload;
    const closing = asksToClose(raw);
    if (!closing) reply.header('connection', 'keep-alive');
    drain(raw, { ...options, closeAtEnd: closing });
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

function asksToClose(request: IncomingMessage): boolean {
  return /(?:^|,)\s*close\s*(?:,|$)/i.test(request.headers.connection ?? '');
}

type NodeSocket = Duplex & { destroySoon?: () => void };

/**
 * Reads and discards the rest of `request`'s body, within the bounds. With `closeAtEnd`, a
 * lingering close: Node ends a connection whose answer says `Connection: close` with
 * `destroySoon()`, which closes it as soon as the answer is written, body unread (the reset
 * above). On this socket only, that ends the server's side and nothing more until the body has
 * been read; then the connection closes once the answer is written.
 */
function drain(request: IncomingMessage, options: { maxBytes: number; maxMs: number; closeAtEnd: boolean }): void {
  const socket: NodeSocket = request.socket;
  const closeOnceWritten = socket.destroySoon?.bind(socket) ?? (() => socket.end());
  let bodyRead = false;
  if (options.closeAtEnd) socket.destroySoon = () => (bodyRead ? closeOnceWritten() : void socket.end());
  let discarded = 0;
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > options.maxBytes) cut();
  };
  const cut = () => {
    stop();
    request.destroy(); // and its connection, the body being unfinished
  };
  const deadline = setTimeout(cut, options.maxMs);
  const stop = () => {
    clearTimeout(deadline);
    draining.delete(socket);
    request.off('data', onData);
    request.off('end', onEnd);
    request.off('close', stop);
  };
  const onEnd = () => {
    stop();
    bodyRead = true;
    if (options.closeAtEnd && socket.writableEnded) closeOnceWritten(); // the answer went out already
  };
  draining.add(socket);
  request.on('data', onData);
  request.once('end', onEnd);
  request.once('close', stop);
  request.resume();
}
