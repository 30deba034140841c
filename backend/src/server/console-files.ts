import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';
import { pageSecurityHeaders } from './page-security-headers.ts';

/** Where `npm run build` writes the console. */
export const consoleDir = fileURLToPath(new URL('../../../web/dist', import.meta.url));

/** The console's pages: each answers the same document, and the page's script shows the right one. */
export const consolePages = [
  '/',
  '/sign-in',
  '/agents',
  '/chat',
  '/chat/:sessionId',
  '/sessions',
  '/triggers',
  '/integrations',
  '/knowledge',
  '/settings',
] as const;

/**
 * Serves the built console at `/` from the same server as the API (no second server): the pages
 * and the hashed assets, precompressed, cached for a year since their names change with their
 * content. A server started from a checkout that was never built answers the pages with 503
 * `CONSOLE_NOT_BUILT`, naming the command that builds it; the API works either way.
 */
export async function installConsoleFiles(app: FastifyInstance, dir = consoleDir): Promise<void> {
  const indexPath = `${dir}/index.html`;
  const index = existsSync(indexPath) ? readFileSync(indexPath) : undefined;
  for (const page of consolePages) {
    app.get(page, { schema: { hide: true } }, async (_request, reply) => {
      if (!index) throw new AppError('CONSOLE_NOT_BUILT');
      return pageSecurityHeaders(reply).header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(index);
    });
  }
  if (!index) return;
  await app.register(fastifyStatic, {
    root: `${dir}/assets`,
    prefix: '/assets/',
    preCompressed: true,
    index: false,
    list: false,
    immutable: true,
    maxAge: '365d',
    setHeaders: (reply) => void reply.header('x-content-type-options', 'nosniff'),
    schemaHide: true,
  });
}
