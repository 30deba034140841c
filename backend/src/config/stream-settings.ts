import { z } from 'zod';
import { int } from './value-schemas.ts';

/** Events and the streams that carry them to clients (WebSocket and server-sent events). */
export const streamSettings = {
  EVENTS_RETENTION_DAYS: int(1, 3650).default(7).describe('How long events are kept for replay and history.'),
  EVENT_STREAM_MAX_LIFETIME_MS: int(1000, 2 ** 31 - 1)
    .default(86_400_000)
    .describe(
      'How long one event stream (a WebSocket or server-sent events) may stay open, whatever its token; then it ends and its client reconnects and resumes from its last event id.',
    ),
  CHAT_COMPLETIONS_MAX_WAIT_MS: int(1000, 2 ** 31 - 1)
    .default(600_000)
    .describe(
      'How long one OpenAI-compatible chat completion (streamed or not) waits for its turn; then it answers 504 TURN_TIMEOUT and the turn goes on in its session.',
    ),
  WS_ALLOWED_ORIGINS: z
    .string()
    .optional()
    .describe('Comma-separated origins a browser may open the WebSocket from. Default: the origin of PUBLIC_URL.'),
  WS_MAX_CONNECTIONS_PER_USER: int(1, 10_000).default(5).describe('WebSocket connections per user (per instance).'),
  SSE_MAX_STREAMS_PER_USER: int(1, 10_000)
    .default(5)
    .describe('Server-sent event streams per user (per instance), counted apart from WebSockets; more answer 429.'),
  WS_MAX_PAYLOAD_BYTES: int(256, 16 * 1024 * 1024)
    .default(64 * 1024)
    .describe('Largest incoming WebSocket frame; larger ones close the socket with 1009.'),
  WS_MAX_MESSAGES_PER_SECOND: int(1, 10_000)
    .default(20)
    .describe('Incoming WebSocket frames per second per connection; more close it with 1008.'),
  WS_MAX_BUFFERED_BYTES: int(1024, 1024 * 1024 * 1024)
    .default(1024 * 1024)
    .describe('Outgoing bytes a slow client may have waiting; more close its socket with 1013 (it resumes with since).'),
} as const;
