import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeCase, problemsOf } from '../../test/hostile/answer-check.ts';
import { runCases, type Outcome } from '../../test/hostile/case-runner.ts';
import { answersDiff } from '../../test/hostile/answers-diff.ts';
import { slowHealth, watchHealth, type HealthSample } from '../../test/hostile/health-watch.ts';
import { startHostileServer, type HostileServer } from '../../test/hostile/hostile-server.ts';
import { multipartBody } from '../../test/hostile/multipart-body.ts';
import { casesFor, credentialCases, type HostileCase } from '../../test/hostile/openapi-cases.ts';
import {
  operationsOf,
  pathValues,
  urlOf,
  type IdBook,
  type OpenApiDocument,
  type Operation,
} from '../../test/hostile/openapi-operations.ts';
import {
  clientFor,
  privateFirst,
  privateOnly,
  readUser,
  seedUser,
  type ApiClient,
  type UserState,
} from '../../test/hostile/user-fixtures.ts';
import { startFakeMcpServer, type FakeMcpServer } from '../../test/fake-mcp-server.ts';
import { drivers } from '../../test/test-database.ts';

/**
 * Every route of /openapi.json against malformed, oversized, deeply nested, NUL-laden, wrong-type
 * and cross-user input, on the real server in its own process. Every answer must be a 4xx with a
 * code from errors.ts (or an allowed 503), in time; /health must answer within 1 s throughout; and
 * nothing refused may be half-written. The cases come from the document, so a new route is covered
 * without editing this file.
 */
const bodyLimitBytes = 1024 * 1024;
const settings = {
  BODY_LIMIT_BYTES: String(bodyLimitBytes),
  // Limits high enough that every case with a valid token reaches its route: a 429 would hide what
  // the route does. AUTH_FAILURE_LIMIT keeps its default: the guesses must not lock out valid tokens.
  RATE_LIMIT_DEFAULT: '1000000',
  RATE_LIMIT_PROMPT_GENERATION: '1000000',
  RATE_LIMIT_KNOWLEDGE_SEARCH: '1000000',
  RATE_LIMIT_INTEGRATION_DISCOVERY: '1000000',
  // Users' MCP servers, so each user has a connection (the fake one on 127.0.0.1).
  INTEGRATIONS_ALLOW_USER_MCP_URLS: 'true',
  OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
  INTEGRATIONS_HEALTH_INTERVAL_MS: '0',
  INTEGRATIONS_TIMEOUT_MS: '5000',
};
const healthLimitMs = 1000;
const slowMs = 5000;
const runBudgetMs = 50_000;

describe.each(drivers)('hostile input against the running server on %s', (driver) => {
  let server: HostileServer;
  let mcp: FakeMcpServer;
  let operations: Operation[] = [];
  let cases: HostileCase[] = [];
  let outcomes: Array<{ outcome: Outcome; problems: string[] }> = [];
  let health: HealthSample[] = [];
  const before = {} as Record<'a' | 'b' | 'admin', UserState>;
  const after = {} as typeof before;
  let users: Record<'a' | 'b' | 'admin', ApiClient>;
  let runMs = 0;
  let afterGuesses: number[] = [];

  beforeAll(async () => {
    mcp = await startFakeMcpServer('mail', { accepts: () => true });
    server = await startHostileServer(driver, settings);
    const admin = clientFor(server.url, server.adminToken);
    const tokens = { a: '', b: '' };
    for (const who of ['a', 'b'] as const) {
      const created = await admin.call('POST', '/v1/users', { email: `user-${who}@example.test`, name: `User ${who.toUpperCase()}` });
      tokens[who] = (created.json as { token: string }).token;
    }
    users = { a: clientFor(server.url, tokens.a), b: clientFor(server.url, tokens.b), admin };
    await seedUser(users.a, 'a', mcp.url);
    await seedUser(users.b, 'b', mcp.url);

    const doc = (await (await fetch(`${server.url()}/openapi.json`)).json()) as OpenApiDocument;
    operations = operationsOf(doc);
    const bodies = await probeBodies(operations, server, tokens.b);
    for (const who of ['a', 'b', 'admin'] as const) before[who] = await readUser(users[who], operations);
    const aOnly = privateOnly(before.a.book, before.b.book);
    const { user } = (await users.a.call('GET', '/v1/me')).json as { user: { id: string } };
    const privateIds = [user.id, ...Object.values(aOnly.ids).flat()];

    const context = {
      own: privateFirst(before.b.book, before.a.book),
      admin: before.admin.book,
      other: aOnly,
      bodyLimitBytes,
      ...bodies,
    };
    const me = operations.find((op) => op.route === 'GET /v1/me')!;
    cases = [...operations.flatMap((op) => casesFor(op, context)), ...credentialCases(me)];

    const watch = watchHealth({ url: server.url, intervalMs: 100, timeoutMs: 5000 });
    const started = performance.now();
    const options = {
      server,
      tokens: { user: tokens.b, admin: server.adminToken, anonymous: undefined },
      timeoutMs: 6000,
      deadline: Date.now() + runBudgetMs,
      maxRestarts: 4,
    };
    const restarts = { restarts: 0 };
    const phases: Array<[string, (c: HostileCase) => boolean, number]> = [
      ['light', (c) => c.sender !== 'anonymous' && !c.heavy, 4],
      // Megabytes and deep nesting one at a time, so a case that blocks the server is named exactly.
      ['heavy', (c) => c.sender !== 'anonymous' && c.heavy, 1],
      // Last, the cases without a valid token: past AUTH_FAILURE_LIMIT guesses, their address is refused for a while.
      ['anonymous', (c) => c.sender === 'anonymous', 2],
    ];
    const ran: Outcome[] = [];
    const timings: string[] = [];
    for (const [name, filter, concurrency] of phases) {
      // What the users have is read before the guesses, which may keep this address out for a minute.
      if (name === 'anonymous') for (const who of ['a', 'b', 'admin'] as const) after[who] = await readUser(users[who], operations);
      const phaseStarted = performance.now();
      const phase = await runCases(cases.filter(filter), { ...options, concurrency }, restarts);
      ran.push(...phase);
      timings.push(`${phase.length} ${name} cases in ${Math.round(performance.now() - phaseStarted)} ms`);
    }
    runMs = performance.now() - started;
    console.info(`hostile input on ${driver}: ${timings.join(', ')}`);
    afterGuesses = [(await users.b.call('GET', '/v1/me')).status, (await admin.call('GET', '/v1/me')).status];
    health = await watch.stop();
    const check = { privateIds, slowMs, serverError: (id: string | undefined) => server.errorFor(id) };
    outcomes = ran.map((outcome) => ({ outcome, problems: problemsOf(outcome, check) }));
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await mcp?.close();
  });

  const failures = (filter: (c: HostileCase) => boolean) =>
    outcomes
      .filter(({ outcome, problems }) => filter(outcome.case) && problems.length > 0)
      .map(({ outcome, problems }) => describeCase(outcome, problems));

  it('derives cases for every route of the document, within the time budget', () => {
    const routes = new Set(cases.map((c) => c.route));
    expect(operations.filter((op) => !routes.has(op.route)).map((op) => op.route)).toEqual([]);
    expect(cases.length).toBeGreaterThan(operations.length * 5);
    expect(runMs).toBeLessThan(runBudgetMs);
  });

  it('answers malformed, oversized, nested, NUL-laden and wrong-type input with a 4xx and a code from errors.ts, never a 5xx', () => {
    expect(failures((c) => c.where !== 'auth' && !c.input.startsWith("another user's"))).toEqual([]);
  });

  it('answers 401 without a valid token, and 403 to an ordinary user on admin routes', () => {
    expect(failures((c) => c.where === 'auth')).toEqual([]);
  });

  it('still accepts valid tokens after a burst of failed guesses from their address', () => {
    expect(afterGuesses).toEqual([200, 200]);
  });

  it("answers 404 to another user's ids, and no answer carries their objects", () => {
    expect(failures((c) => c.input.startsWith("another user's"))).toEqual([]);
  });

  it('answers /health within 1 s throughout, and no case stops the server', () => {
    expect(health.length).toBeGreaterThan(10);
    const during = (start: number, end: number) =>
      outcomes
        .filter(({ outcome }) => outcome.start < end && outcome.end > start)
        .map(({ outcome }) => `${outcome.case.route} ${outcome.case.where} = ${outcome.case.input}`);
    expect(slowHealth(health, healthLimitMs, during)).toEqual([]);
    expect(server.restarts).toBe(0);
  });

  it('leaves nothing half-written: the other user has exactly what they had, the senders only what was accepted', () => {
    expect(answersDiff(before.a.answers, after.a.answers)).toEqual([]);
    const accepted = outcomes
      .filter(({ outcome }) => (outcome.answer.status ?? 500) < 300)
      .map(({ outcome }) => `${outcome.case.request.url}\n${outcome.answer.text}`);
    for (const who of ['b', 'admin'] as const) {
      // An object that came or went was named by an accepted request or its answer, or is listed
      // under one that was (a checkpoint taken by a status change, messages a restore removed).
      const parentOf = { ...before[who].parentOf, ...after[who].parentOf };
      const explained = (id: string | undefined): boolean =>
        id !== undefined && (accepted.some((text) => text.includes(id)) || explained(parentOf[id]));
      const unexplained = (from: UserState, to: UserState, change: string) => {
        const there = new Set(Object.values(to.book.ids).flat());
        return Object.entries(from.book.ids).flatMap(([kind, ids]) =>
          ids.filter((id) => !there.has(id) && !explained(id)).map((id) => `${who}: ${kind} ${id} ${change}`),
        );
      };
      expect([...unexplained(after[who], before[who], 'appeared'), ...unexplained(before[who], after[who], 'vanished')]).toEqual([]);
    }
  });
});

/**
 * Which routes that declare no body read one anyway (the knowledge upload takes JSON or a multipart
 * form): asked of the server, since the document cannot say.
 */
async function probeBodies(
  operations: Operation[],
  server: HostileServer,
  token: string,
): Promise<{ takesJson: Set<string>; takesMultipart: Set<string> }> {
  const takesJson = new Set<string>();
  const takesMultipart = new Set<string>();
  const empty: IdBook = { ids: {}, values: {} };
  for (const op of operations.filter((o) => !o.jsonBody && ['POST', 'PUT', 'PATCH'].includes(o.method))) {
    const url = `${server.url()}${urlOf(op.path, pathValues(op, empty))}`;
    const headers = { authorization: `Bearer ${token}` };
    const form = multipartBody([{ name: 'file', filename: 'probe.txt', type: 'text/plain', content: 'A probe.' }]);
    const asJson = await fetch(url, { method: op.method, headers: { ...headers, 'content-type': 'application/json' }, body: '{}' });
    const asForm = await fetch(url, { method: op.method, headers: { ...headers, 'content-type': form.contentType }, body: form.body });
    const refused = async (response: Response) =>
      ((await response.json().catch(() => ({}))) as { error?: { code?: string } }).error?.code === 'BODY_NOT_ALLOWED';
    if (!(await refused(asJson))) takesJson.add(op.route);
    if (!(await refused(asForm))) takesMultipart.add(op.route);
  }
  return { takesJson, takesMultipart };
}
