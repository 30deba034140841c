import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/*
 * The console signs in once with an API token and gets a session of its own: a new token (256
 * random bits, stored hashed like every token, listed and revocable with the others) in a cookie
 * the page's scripts cannot read (HttpOnly, SameSite=Strict). Requests that change something and
 * are authenticated by the cookie must also carry the session's CSRF token in `x-csrf-token`: the
 * page gets it from the sign-in answer (or GET /v1/console/session), which another site cannot read.
 */

export const sessionCookie = 'agentry_session';

/** The CSRF token of a console session: derived from its secret, so nothing more is stored. */
export function csrfTokenFor(sessionToken: string): string {
  return createHash('sha256').update(`agentry csrf\0${sessionToken}`).digest('base64url');
}

/** Whether a cookie-authenticated request may proceed: reads always, changes with the right CSRF token. */
export function passesCsrf(request: FastifyRequest, sessionToken: string): boolean {
  if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return true;
  const sent = request.headers['x-csrf-token'];
  if (typeof sent !== 'string') return false;
  const expected = Buffer.from(csrfTokenFor(sessionToken));
  const given = Buffer.from(sent);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
