import { consolePages } from './console-files.ts';

/**
 * The routes anyone may call without a token. This is the one list: every other route requires
 * `Authorization: Bearer <token>` (a test enumerates the registered routes against it).
 */
export const publicRoutes: readonly string[] = [
  'GET /health',
  'GET /ready',
  'GET /metrics',
  'GET /openapi.json',
  // Providers send the user's browser back here; its single-use state is the authorisation.
  'GET /v1/oauth/callback',
  // The console trades an API token for a session cookie here.
  'POST /v1/console/sign-in',
  // The console's pages: one document, which signs in or calls the API with the session cookie.
  ...consolePages.map((page) => `GET ${page}`),
  // The WebSocket authenticates inside its protocol (Authorization header or a first auth frame):
  // an unauthenticated socket is closed with 4401 and never receives an event.
  'GET /v1/ws',
  // Webhook deliveries carry no token: each is signed with its trigger's secret (HMAC-SHA256).
  'POST /v1/hooks/:id',
];

/** Subtrees served without a token: the API docs UI and its assets, and the console's assets. */
export const publicPrefixes: readonly string[] = ['GET /docs', 'GET /assets'];

export function isPublicRoute(method: string, url: string): boolean {
  const verb = method === 'HEAD' ? 'GET' : method;
  const key = `${verb} ${url}`;
  return publicRoutes.includes(key) || publicPrefixes.some((prefix) => key === prefix || key.startsWith(`${prefix}/`));
}
