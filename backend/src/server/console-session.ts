import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/*
 * The console signs in once with an API token and gets a session of its own: a new token (256
 * random bits, stored hashed like every token, listed and revocable with the others) in a cookie
 * the page's scripts cannot read (HttpOnly, SameSite=Strict; `__Host-` over https, so no other
 * site of the same domain can set one in its place). Requests that change something and are
 * authenticated by the cookie must also carry the session's CSRF token in `x-csrf-token`: the page
 * gets it from the sign-in answer (or GET /v1/console/session), which another site cannot read.
 */

export function sessionCookieName(secure: boolean): string {
  return secure ? '__Host-agentry_session' : 'agentry_session';
}

/**
 * The session token the request's cookie carries. None when there is no such cookie, or more than
 * one (a second one can only have been planted by another site of the same domain).
 */
export function sessionFromCookie(request: FastifyRequest, name: string): string | undefined {
  const sent = (request.headers.cookie ?? '').split(';').filter((part) => part.trim().startsWith(`${name}=`));
  return sent.length === 1 ? request.cookies[name] : undefined;
}

/** The token of an `Authorization: Bearer` header; undefined for none or another scheme (a proxy's Basic credentials). */
export function bearerToken(header: string | undefined): { token: string | undefined } | undefined {
  if (!header || !/^bearer\s/i.test(header)) return undefined;
  return { token: /^Bearer +(\S+)\s*$/i.exec(header)?.[1] };
}

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
