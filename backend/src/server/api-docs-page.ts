import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { pageSecurityHeaders } from './page-security-headers.ts';

/**
 * The API docs page at `/docs` (Swagger UI over the OpenAPI document), on the console's origin
 * and so under the console's headers: its page, scripts, styles and `/docs/json` all carry the
 * same Content-Security-Policy, frame refusal, nosniff and no-referrer. Swagger UI needs nothing
 * more: it loads its scripts and styles as files and sets styles from script.
 */
export async function apiDocsPage(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', async (_request, reply) => {
    pageSecurityHeaders(reply);
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
