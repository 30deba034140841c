import { errorCodes, type ErrorCode } from '../../src/errors.ts';
import type { Outcome } from './case-runner.ts';

/** The only 5xx answers hostile input may get: a feature switched off, or a database at capacity. */
const allowed5xx: ReadonlySet<string> = new Set<ErrorCode>(['FEATURE_UNAVAILABLE', 'DATABASE_BUSY']);

export interface CheckContext {
  /** Ids of the other user's objects: no answer to the sending user may contain one. */
  privateIds: readonly string[];
  /** An answer slower than this is a problem even when right. */
  slowMs: number;
  /** The server's own account of a failed request (its log line), by request id. */
  serverError(requestId: string | undefined): string | undefined;
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown };
}

/**
 * What is wrong with one answer, in words for the report; empty when nothing is. Every answer must
 * be a 4xx with a code from the registry in errors.ts (with that code's status and a message), or
 * one of the allowed 503s; values the API documents as valid may also succeed. Cross-user cases
 * must find nothing.
 */
export function problemsOf(outcome: Outcome, context: CheckContext): string[] {
  const { case: hostile, answer } = outcome;
  const problems: string[] = [];
  if (outcome.blockedServer) problems.push(`the server stopped answering (even /health) and was restarted`);
  if (answer.status === undefined) return [...problems, `no answer: ${answer.error ?? 'unknown'} after ${answer.ms} ms`];
  const status = answer.status;
  let body: ErrorBody | undefined;
  try {
    body = JSON.parse(answer.text) as ErrorBody;
  } catch {
    body = undefined;
  }
  const code = typeof body?.error?.code === 'string' ? body.error.code : undefined;
  const said = `${status}${code ? ` ${code}` : ''}${typeof body?.error?.message === 'string' ? `: ${body.error.message.slice(0, 160)}` : ''}`;

  if (status >= 400) {
    const known = code !== undefined && code in errorCodes ? errorCodes[code as ErrorCode] : undefined;
    if (!known) problems.push(`${said} has no error code from errors.ts`);
    else if (known.status !== status) problems.push(`${said}: the registry gives ${code} status ${known.status}`);
    if (typeof body?.error?.message !== 'string' || body.error.message.length < 5) problems.push(`${status} without a message`);
  }
  // Past AUTH_FAILURE_LIMIT failed guesses an address is refused for a while: right for a caller
  // without a valid token, never for one with (the suite's other limits are set out of reach).
  const guessedOut = status === 429 && code === 'RATE_LIMITED' && hostile.sender === 'anonymous';
  if (status === 429 && !guessedOut) problems.push(`${said}: rate limited, so the case never reached the route`);
  if (status >= 500 && !(status === 503 && code && allowed5xx.has(code))) {
    const log = context.serverError(answer.requestId);
    problems.push(`${said}${log ? ` (server log: ${log})` : ''}`);
  }
  const allowed503 = status === 503 && code !== undefined && allowed5xx.has(code);
  const expect = hostile.expect;
  if (expect.kind === 'status' && status !== expect.status && !allowed503 && !guessedOut)
    problems.push(`${said}, expected ${expect.status}`);
  if (expect.kind === 'refused' && status < 400) problems.push(`${status}: accepted, expected a 4xx`);
  if (answer.ms > context.slowMs) problems.push(`answered after ${answer.ms} ms`);
  if (hostile.sender === 'user') {
    // An error may quote the request; only ids the request did not carry are a leak.
    const sent = `${hostile.request.url}\n${hostile.request.body?.toString() ?? ''}`;
    const leaked = context.privateIds.find((id) => answer.text.includes(id) && !sent.includes(id));
    if (leaked) problems.push(`the answer contains another user's id ${leaked}`);
  }
  return problems;
}

/** One line per problem case: route, where, input, and what was wrong. */
export function describeCase(outcome: Outcome, problems: string[]): string {
  const c = outcome.case;
  return `${c.route} ${c.where} = ${c.input} (as ${c.sender}) → ${problems.join('; ')}`;
}
