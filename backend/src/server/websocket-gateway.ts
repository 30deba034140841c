import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { Principal, TokenService } from '../accounts/index.ts';
import type { Config } from '../config.ts';
import { AppError, errorCodes, type ErrorCode } from '../errors.ts';
import type { ClientStream, EventSystem } from '../events/index.ts';
import { bearerToken, sessionFromCookie } from './console-session.ts';
import type { CredentialCheck, CredentialKind } from './credential-check.ts';
import { encodedEventFrame } from './event-frame.ts';
import { FrameQueue } from './frame-queue.ts';
import { watchStreamCredential, type StreamCredentialWatch } from './stream-credential-watch.ts';

/** Close codes a client can act on. 1008/1009/1013 are the protocol's own. */
export const closeCodes = {
  unauthorized: 4401,
  /** The connection reached EVENT_STREAM_MAX_LIFETIME_MS: reconnect and resume with `since`. */
  lifetime: 4408,
  tooManyConnections: 4429,
  policy: 1008,
  tooBig: 1009,
  slowConsumer: 1013,
} as const;

const authTimeoutMs = 5000;
const heartbeatMs = 30_000;
const maxTopicsPerConnection = 100;
/** Frames a connection may have waiting for their answer; the per-second limit alone lets a backlog grow while the database is slow. */
const maxWaitingFrames = 32;

const topicList = z.array(z.string().max(200)).min(1).max(maxTopicsPerConnection);
const incomingFrame = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('auth'), token: z.string().max(500) }),
  z.strictObject({
    type: z.literal('subscribe'),
    topics: topicList,
    since: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  }),
  z.strictObject({ type: z.literal('unsubscribe'), topics: topicList }),
  z.strictObject({ type: z.literal('ping') }),
]);
type IncomingFrame = z.infer<typeof incomingFrame>;

interface Connection {
  socket: WebSocket;
  principal?: Principal;
  /** Ends the connection with its credential and at its maximum lifetime; re-checks on every heartbeat. */
  watch?: StreamCredentialWatch;
  stream?: ClientStream;
  alive: boolean;
  window: { start: number; count: number };
}

export interface GatewayDeps {
  config: Config;
  tokens: TokenService;
  events: EventSystem;
  credentials: CredentialCheck;
  /** The console session cookie's name. */
  sessionCookie: string;
}

/**
 * `GET /v1/ws`: the authenticated event stream.
 *
 * A client authenticates with the upgrade's Authorization header or a first `auth` frame within
 * five seconds, then subscribes to topics, optionally from an event id (replay, then live).
 * A subscribe frame's topics are authorised in one query per kind of topic, however many it names.
 * Browser upgrades must come from an allowed Origin. Per connection: a frame size limit (1009), a
 * frame rate limit and a bound on frames waiting for their answer (1008), and a cap on bytes
 * waiting for a slow reader (1013: resume with `since`), and a maximum lifetime (4408: resume with
 * `since`). Per user: a connection limit (4429). The token's expiry, its revocation or the user's
 * disabling closes the socket (4401). All limits are per instance.
 */
export async function installWebSocketGateway(app: FastifyInstance, deps: GatewayDeps): Promise<void> {
  const { config } = deps;
  const publicOrigin = new URL(config.publicUrl).origin;
  const limits = config.websocket;
  const connections = new Set<Connection>();
  const perUser = new Map<string, number>();

  await app.register(websocket, { options: { maxPayload: limits.maxPayloadBytes } });

  const heartbeat = setInterval(() => {
    for (const connection of connections) {
      if (!connection.alive) connection.socket.terminate();
      else {
        connection.alive = false;
        connection.socket.ping();
      }
      connection.watch?.recheck();
    }
  }, heartbeatMs);
  heartbeat.unref();

  app.addHook('onClose', async () => clearInterval(heartbeat));

  const send = (connection: Connection, frame: object) => {
    if (connection.socket.readyState === connection.socket.OPEN) connection.socket.send(JSON.stringify(frame));
  };
  const sendError = (connection: Connection, code: ErrorCode, message: string = errorCodes[code].message) =>
    send(connection, { type: 'error', code, message });

  /** Authentication first: the token is checked before the address's failures are (see CredentialCheck). */
  const authenticate = async (
    connection: Connection,
    request: FastifyRequest,
    token: string | undefined,
    kind: CredentialKind = 'token',
  ): Promise<boolean> => {
    const result = await deps.credentials.check(token, { kind, ip: request.ip, route: '/v1/ws', log: request.log });
    // The client may have gone while the token was checked: register nothing then.
    if (connection.socket.readyState !== connection.socket.OPEN) return false;
    if (!result.ok) {
      if (result.retryAfter > 0)
        connection.socket.close(closeCodes.tooManyConnections, 'too many failed sign-in attempts from this address; retry later');
      else connection.socket.close(closeCodes.unauthorized, 'invalid, expired or revoked token');
      return false;
    }
    const principal = result.principal;
    const count = perUser.get(principal.user.id) ?? 0;
    if (count >= limits.maxConnectionsPerUser) {
      connection.socket.close(closeCodes.tooManyConnections, `at most ${limits.maxConnectionsPerUser} connections per user`);
      return false;
    }
    perUser.set(principal.user.id, count + 1);
    connection.principal = principal;
    connection.watch = watchStreamCredential({
      tokens: deps.tokens,
      principal,
      token,
      maxLifetimeMs: config.events.streamMaxLifetimeMs,
      end: ({ kind, why }) => connection.socket.close(kind === 'lifetime' ? closeCodes.lifetime : closeCodes.unauthorized, why),
    });
    const socket = connection.socket;
    const flow = {
      // A replay pauses at half the cap until the client has read most of what is waiting.
      congested: () => socket.bufferedAmount > limits.maxBufferedBytes / 2,
      drained: () =>
        new Promise<void>((resolve) => {
          const check = () =>
            socket.readyState !== socket.OPEN || socket.bufferedAmount <= limits.maxBufferedBytes / 4 ? resolve() : setTimeout(check, 10);
          check();
        }),
    };
    connection.stream = deps.events.fanout.open(principal.user.id, flow, (event) => {
      if (connection.socket.readyState !== connection.socket.OPEN) return false;
      if (connection.socket.bufferedAmount > limits.maxBufferedBytes) {
        connection.socket.close(closeCodes.slowConsumer, 'too slow: reconnect and resume with since');
        return false;
      }
      connection.socket.send(encodedEventFrame(event), { binary: false });
      return true;
    });
    send(connection, { type: 'ready', userId: principal.user.id });
    return true;
  };

  const handleFrame = async (connection: Connection, request: FastifyRequest, frame: IncomingFrame) => {
    if (frame.type === 'auth') {
      if (connection.principal) return sendError(connection, 'ALREADY_AUTHENTICATED');
      await authenticate(connection, request, frame.token);
      return;
    }
    const stream = connection.stream;
    if (!connection.principal || !stream) {
      connection.socket.close(closeCodes.unauthorized, 'authenticate first');
      return;
    }
    if (frame.type === 'ping') return send(connection, { type: 'pong' });
    if (frame.type === 'unsubscribe') {
      stream.unsubscribe(frame.topics);
      return send(connection, { type: 'unsubscribed', topics: frame.topics });
    }
    const { allowed, refused } = await deps.events.topics.authorize(connection.principal.user.id, [...new Set(frame.topics)]);
    if (refused.length) sendError(connection, 'TOPIC_FORBIDDEN', `You cannot subscribe to: ${refused.join(', ')}.`);
    if (stream.topicCount + allowed.length > maxTopicsPerConnection) {
      return sendError(connection, 'TOO_MANY_TOPICS', `A connection follows at most ${maxTopicsPerConnection} topics.`);
    }
    if (frame.since !== undefined && frame.since > (await deps.events.store.lastIssuedId())) {
      return sendError(connection, 'INVALID_SINCE');
    }
    if (allowed.length === 0) return;
    // The newest committed event (ids commit in order): a client that subscribed without `since`
    // follows from just after it, replaying whatever commits before its live subscription starts,
    // and resumes from it after a reconnect.
    const position = await deps.events.store.latestId();
    send(connection, { type: 'subscribed', topics: allowed, position });
    await stream.subscribe(allowed, frame.since ?? position);
  };

  // Browsers send an Origin; only allowed ones may upgrade. Other clients send none.
  const checkOrigin = async (request: FastifyRequest) => {
    const origin = request.headers.origin;
    if (origin !== undefined && !limits.allowedOrigins.includes(origin)) {
      throw new AppError('FORBIDDEN', `WebSocket connections from the origin ${origin} are not allowed (WS_ALLOWED_ORIGINS).`);
    }
  };

  app.get('/v1/ws', { websocket: true, onRequest: checkOrigin, schema: { hide: true } }, (socket, request) => {
    const connection: Connection = { socket, alive: true, window: { start: Date.now(), count: 0 } };
    connections.add(connection);
    socket.on('pong', () => (connection.alive = true));
    const authTimer = setTimeout(() => {
      if (!connection.principal) socket.close(closeCodes.unauthorized, 'authenticate within 5 seconds');
    }, authTimeoutMs);
    socket.on('close', () => {
      clearTimeout(authTimer);
      connection.watch?.stop();
      connections.delete(connection);
      connection.stream?.close();
      const userId = connection.principal?.user.id;
      if (userId) {
        const left = (perUser.get(userId) ?? 1) - 1;
        if (left > 0) perUser.set(userId, left);
        else perUser.delete(userId);
      }
    });
    // Frames are handled one at a time, in order, with at most maxWaitingFrames waiting.
    const queue = new FrameQueue({
      maxWaiting: maxWaitingFrames,
      onError: (error) => request.log.error({ err: error }, 'websocket frame failed'),
    });
    socket.on('message', (data, isBinary) => {
      const now = Date.now();
      if (now - connection.window.start >= 1000) connection.window = { start: now, count: 0 };
      if (++connection.window.count > limits.maxMessagesPerSecond) {
        socket.close(closeCodes.policy, `more than ${limits.maxMessagesPerSecond} frames a second`);
        return;
      }
      const queued = queue.push(async () => {
        if (socket.readyState !== socket.OPEN) return;
        let parsed: unknown;
        try {
          parsed = isBinary ? undefined : JSON.parse(data.toString());
        } catch {
          parsed = undefined;
        }
        const result = incomingFrame.safeParse(parsed);
        if (!result.success) {
          if (!connection.principal) socket.close(closeCodes.unauthorized, 'authenticate first with {"type":"auth","token":"…"}');
          else
            sendError(
              connection,
              'INVALID_FRAME',
              `Frames are JSON objects of type auth, subscribe, unsubscribe or ping: ${result.error.issues[0]?.message ?? 'not JSON'}.`,
            );
          return;
        }
        await handleFrame(connection, request, result.data).catch((error: Error) => {
          request.log.error({ err: error }, 'websocket frame failed');
          sendError(connection, 'INTERNAL', 'Something went wrong on our side.');
        });
      });
      if (!queued) socket.close(closeCodes.policy, `more than ${maxWaitingFrames} frames waiting for an answer`);
    });
    // The upgrade's Authorization header; or the console's session cookie, from the console's own
    // page only (another allowed origin may open sockets, but with a token of its own).
    const bearer = bearerToken(request.headers.authorization);
    const cookie = !bearer && request.headers.origin === publicOrigin ? sessionFromCookie(request, deps.sessionCookie) : undefined;
    if (bearer) queue.push(async () => void (await authenticate(connection, request, bearer.token)));
    else if (cookie) queue.push(async () => void (await authenticate(connection, request, cookie, 'cookie')));
  });
}
