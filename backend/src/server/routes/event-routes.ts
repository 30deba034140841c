import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../config.ts';
import { AppError } from '../../errors.ts';
import { eventTypes, type EventSystem, type StoredEvent } from '../../events/index.ts';
import type { TokenService } from '../../accounts/index.ts';
import { principalOf } from '../auth.ts';
import { bearerToken } from '../console-session.ts';
import { encodedEventFrame, toEventFrame } from '../event-frame.ts';
import { watchStreamCredential } from '../stream-credential-watch.ts';

const storedEvent = z.object({
  type: z.literal('event'),
  id: z.number(),
  topic: z.string(),
  event: z.string(),
  data: z.unknown(),
  at: z.string(),
});
const idParam = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const topicsParam = z
  .string()
  .max(5000)
  .transform((s) => [
    ...new Set(
      s
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  ]);

const keepAliveMs = 15_000;

/**
 * The caller's event history, and the live stream as server-sent events. Per stream: a cap on
 * bytes waiting for a slow reader, its credential's lifetime and EVENT_STREAM_MAX_LIFETIME_MS; per user: a count
 * (SSE_MAX_STREAMS_PER_USER, apart from WebSockets, so a script's streams cannot keep the console's
 * socket out). All per instance.
 */
export const eventRoutes: FastifyPluginAsyncZod<{ events: EventSystem; tokens: TokenService; config: Config }> = async (
  app,
  { events, tokens, config },
) => {
  const maxStreams = config.serverSentEvents.maxStreamsPerUser;
  const streamsPerUser = new Map<string, number>();
  app.get(
    '/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Your event history, oldest first, paginated by id',
        querystring: z.strictObject({
          topic: z.string().max(200).optional(),
          types: z
            .string()
            .max(2000)
            .transform((s) => s.split(',').filter(Boolean))
            .pipe(z.array(z.enum(eventTypes as [string, ...string[]])))
            .optional()
            .describe('Comma-separated event types'),
          after: idParam.optional().describe('Return events after this id (the `next` of the previous page)'),
          since: z.iso.datetime({ offset: true }).optional().describe('Events at or after this time'),
          until: z.iso.datetime({ offset: true }).optional().describe('Events before this time'),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: { 200: z.object({ events: z.array(storedEvent), next: z.number().nullable() }) },
      },
    },
    async (request) => {
      const q = request.query;
      const list = await events.store.history({
        userId: principalOf(request).user.id,
        limit: q.limit,
        ...(q.topic ? { topic: q.topic } : {}),
        ...(q.types ? { types: q.types as StoredEvent['type'][] } : {}),
        ...(q.after !== undefined ? { after: q.after } : {}),
        ...(q.since ? { since: new Date(q.since) } : {}),
        ...(q.until ? { until: new Date(q.until) } : {}),
      });
      return { events: list.map(toEventFrame), next: list.length === q.limit ? (list.at(-1)?.id ?? null) : null };
    },
  );

  app.get(
    '/v1/events/stream',
    {
      schema: {
        tags: ['events'],
        summary: 'The live event stream as server-sent events; resume with Last-Event-ID',
        querystring: z.strictObject({ topics: topicsParam, since: idParam.optional() }),
        headers: z.object({ 'last-event-id': idParam.optional() }).passthrough(),
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const userId = principal.user.id;
      const { allowed, refused } = await events.topics.authorize(userId, request.query.topics);
      if (refused.length || allowed.length === 0) {
        throw new AppError('FORBIDDEN', refused.length ? `You cannot subscribe to: ${refused.join(', ')}.` : 'Name at least one topic.');
      }
      const open = streamsPerUser.get(userId) ?? 0;
      if (open >= maxStreams)
        throw new AppError(
          'TOO_MANY_STREAMS',
          `You have ${maxStreams} event streams open on this server: close one first (SSE_MAX_STREAMS_PER_USER).`,
        );
      const since = request.headers['last-event-id'] ?? request.query.since;
      const raw = reply.hijack().raw;
      if (raw.destroyed) return; // the client left while its topics were checked
      streamsPerUser.set(userId, open + 1);
      raw.once('close', () => {
        const left = (streamsPerUser.get(userId) ?? 1) - 1;
        if (left > 0) streamsPerUser.set(userId, left);
        else streamsPerUser.delete(userId);
      });
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      // At once: the client learns the stream is open now, not with its first event.
      raw.flushHeaders();
      const cap = config.websocket.maxBufferedBytes;
      const flow = {
        congested: () => raw.writableLength > cap / 2,
        drained: () =>
          new Promise<void>((resolve) => (raw.writableLength <= cap / 4 || raw.destroyed ? resolve() : raw.once('drain', () => resolve()))),
      };
      const stream = events.fanout.open(userId, flow, (event) => {
        if (raw.destroyed) return false;
        if (raw.writableLength > cap) {
          raw.destroy(); // a reader this far behind resumes with Last-Event-ID
          return false;
        }
        raw.write(`id: ${event.id}\nevent: ${event.type}\ndata: `);
        raw.write(encodedEventFrame(event));
        raw.write('\n\n');
        return true;
      });
      // Like a WebSocket: it ends with its credential (re-checked with each keep-alive) and at its
      // maximum lifetime; an EventSource then reconnects with Last-Event-ID.
      const watch = watchStreamCredential({
        tokens,
        principal,
        token: bearerToken(request.headers.authorization)?.token ?? request.consoleSession,
        maxLifetimeMs: config.events.streamMaxLifetimeMs,
        end: () => raw.end(),
      });
      const keepAlive = setInterval(() => {
        raw.write(': keep-alive\n\n');
        watch.recheck();
      }, keepAliveMs);
      raw.on('close', () => {
        clearInterval(keepAlive);
        watch.stop();
        stream.close();
      });
      await stream.subscribe(allowed, since).catch((error: Error) => {
        request.log.error({ err: error }, 'event stream replay failed');
        raw.destroy();
      });
    },
  );
};
