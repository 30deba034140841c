import { z } from 'zod';
import { bool, int, perMinute } from './value-schemas.ts';

/** How the HTTP server listens, logs, limits requests and shuts down. */
export const serverSettings = {
  PORT: int(0, 65535).default(3000).describe('HTTP port.'),
  HOST: z.string().min(1).default('127.0.0.1').describe('Interface to listen on. Use 0.0.0.0 to accept remote connections.'),
  PUBLIC_URL: z
    .url()
    .optional()
    .describe('The URL users reach Agentry at; used for redirects and allowed origins. Default http://HOST:PORT.'),
  TRUST_PROXY: z
    .string()
    .default('false')
    .describe('Trust X-Forwarded-* headers: false, true, a hop count, or a comma-separated list of proxy addresses/CIDRs.'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('Log level.'),
  BODY_LIMIT_BYTES: int(1024, 100 * 1024 * 1024)
    .default(1024 * 1024)
    .describe('Largest accepted request body; larger ones answer 413.'),
  HTTP_REQUEST_TIMEOUT_MS: int(100, 3_600_000)
    .default(120_000)
    .describe(
      'How long a client may take to send a whole request, headers and body; a slower one gets 408 and its connection closes. Producing the answer is not limited by it.',
    ),
  HTTP_HEADERS_TIMEOUT_MS: int(100, 3_600_000)
    .default(20_000)
    .describe("How long a client may take to send a request's headers (at most HTTP_REQUEST_TIMEOUT_MS)."),
  HTTP_MAX_CONNECTIONS: int(1, 1_000_000)
    .default(2000)
    .describe('Open connections the server accepts (WebSockets and event streams included); more are closed at once.'),
  HTTP_MAX_CONNECTIONS_PER_ADDRESS: int(1, 1_000_000)
    .default(100)
    .describe(
      'Open connections one client address may hold; more are closed at once. Not applied to addresses TRUST_PROXY trusts: capping the clients of a proxy is then its job.',
    ),
  METRICS_ENABLED: bool.default(true).describe('Serve Prometheus metrics at /metrics (a public route when enabled).'),
  RATE_LIMIT_DEFAULT: perMinute
    .default(600)
    .describe('Requests per minute per user on routes without a group of their own (per instance).'),
  RATE_LIMIT_PROMPT_GENERATION: perMinute.default(100).describe('Prompt generation requests per minute per user (per instance).'),
  RATE_LIMIT_KNOWLEDGE_SEARCH: perMinute.default(60).describe('Knowledge search requests per minute per user (per instance).'),
  RATE_LIMIT_INTEGRATION_DISCOVERY: perMinute.default(10).describe('Integration discovery requests per minute per user (per instance).'),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000).describe('How long shutdown waits for in-flight requests before closing them.'),
} as const;
