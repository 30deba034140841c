import type { FastifyReply } from 'fastify';

/**
 * The pages this origin serves (the console, the API docs) run only their own scripts and
 * styles, talk only to this origin, and cannot be framed: whatever a message, a document or an
 * API description contains, no injected markup can load or run anything, and no other site can
 * overlay the page to steal a click. No 'unsafe-inline' and no 'unsafe-eval': both pages load
 * their scripts and styles as files (style changes made from script are not inline styles).
 */
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Sets the headers above, with nosniff, no referrer and the frame refusal older browsers read. */
export function pageSecurityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', contentSecurityPolicy)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}
