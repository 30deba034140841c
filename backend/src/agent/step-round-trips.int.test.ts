import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeChatCompletions, type FakeChatCompletions } from '../../test/fake-chat-completions.ts';
import { countQueries, type CountedQuery } from '../../test/query-counter.ts';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';
import { drivers } from '../../test/test-database.ts';

/**
 * What a turn costs in round trips to the database, each statement counted (BEGIN and COMMIT
 * too): a step's writes are folded into few statements, and a change that adds one fails here.
 * The difference between a turn of four tool calls and one of a single call is three steps that
 * each call a tool, so the figure per step holds whatever the turn's start and end cost.
 */
describe.each(drivers)('round trips of a turn on %s', (driver) => {
  // A step that calls one tool: the answer (with its model call and ledger entry, which it
  // returns), the call's begin and result, and the tool results with the checkpoint, whose lease
  // renewal is the next boundary's check, each one statement; the history is read once per turn,
  // then kept from the rows the writes return: 4, measured as 3.3 (the first turn of the app reads
  // its integrations' tools once more). 5 while each step read the history, 12.3 before the answer
  // and the results were each one statement, 30 before the writes were folded.
  const perToolStep = 4;
  // A step that calls an idempotent tool allowed at once: its begin and result go with the answer
  // and the tool results (a crash between them leaves the call to run again), so 2: the answer
  // and the results (3 while each step read the history, 5 before).
  const perIdempotentToolStep = 2;
  // One user message (the turn opened with the message in one statement; the session, created
  // here, is not read, nor is the conversation, which holds that message alone), a step with one
  // tool call, a step that answers (its text, streamed within the first delta window, goes with
  // its record), the turn's end in one statement: 10 (11 while the first delta went out at once,
  // 12 while a first turn read its conversation, 13 while the first message read the session with
  // its conversation, 14 while the last delta was a statement of its own, 14 while each step read
  // the history, 24 while the turn's start and end were transactions, 36 before the answer and the
  // results were each one statement; 66 on PGlite and 73 on PostgreSQL before the writes were folded).
  const perTurn = 10;
  let t: TestApp;
  let fake: FakeChatCompletions;
  let counter: ReturnType<typeof countQueries>;
  beforeAll(async () => {
    fake = await startFakeChatCompletions();
    t = await createTestApp(driver, {
      MODEL_ENDPOINTS: `fake=${fake.url}`,
      CUSTOM_TOOLS: 'backend/test/fixtures/effect-counter-tool.ts,backend/test/fixtures/idempotent-effect-tool.ts',
      SESSION_MAX_STEPS: '10',
      // Every statement of the process is counted: the trigger worker's look stays out of the way.
      TRIGGER_TICK_MS: '60000',
    });
    counter = countQueries();
  });
  afterAll(async () => {
    counter.restore();
    await t.close();
    await fake.close();
  });

  const call = (method: 'POST', url: string, payload: unknown) =>
    t.app.inject({ method, url, headers: bearer(t.userToken), payload: payload as object });

  async function newSession(): Promise<{ conversationId: string }> {
    const agent = (await call('POST', '/v1/agents', { name: 'Counted', model: 'fake:counted' })).json().agent;
    return (await call('POST', '/v1/sessions', { agentId: agent.id })).json().session;
  }

  /** The statements of one turn whose model calls `tools` tools (`tool`), one per step, then answers. */
  async function turnOf(tools: number, tool = 'apply_effect', conversationId?: string): Promise<CountedQuery[]> {
    const session = conversationId ? { conversationId } : await newSession();
    for (let i = 1; i <= tools; i++)
      fake.replies.push({ kind: 'tool-call', name: tool, arguments: { label: `call ${i}` }, id: `call_${i}` });
    // The answer streams in pieces, as a model's does (fast: all of it within the first delta window).
    fake.replies.push({ kind: 'text', text: 'Done: every call went through.', pieceLength: 4 });
    counter.start();
    const response = await call('POST', `/v1/conversations/${session.conversationId}/messages?wait=true`, { content: 'Go.' });
    const statements = counter.stop();
    expect(response.json().turn.status).toBe('completed');
    return statements;
  }

  const listing = (statements: CountedQuery[]) => statements.map((s) => s.text.replace(/\s+/g, ' ').slice(0, 120)).join('\n');

  it('creates a session in two statements: the agent read, then the session, its conversation, checkpoint and events', async () => {
    const agent = (await call('POST', '/v1/agents', { name: 'Counted', model: 'fake:counted' })).json().agent;
    counter.start();
    const response = await call('POST', '/v1/sessions', { agentId: agent.id });
    const statements = counter.stop();
    expect(response.statusCode).toBe(201);
    expect(statements.length, listing(statements)).toBe(2);
  });

  it('records a step that calls a tool in a bounded number of statements', async () => {
    const one = await turnOf(1);
    const four = await turnOf(4);
    expect(one.length, listing(one)).toBeLessThanOrEqual(perTurn);
    expect((four.length - one.length) / 3, listing(four)).toBeLessThanOrEqual(perToolStep);
  });

  it('opens the turns of a session it created without reading the session, and its first turn without reading the conversation', async () => {
    const { conversationId } = await newSession();
    const first = await turnOf(1, 'apply_effect', conversationId);
    const next = await turnOf(1, 'apply_effect', conversationId);
    expect(listing(first)).not.toMatch(/from "conversations"/);
    expect(listing(next)).not.toMatch(/from "conversations"/);
    // The first message is all the conversation holds; the next turn reads what the first wrote.
    expect(listing(first)).not.toMatch(/from "messages"/);
    expect(next.length, listing(next)).toBe(first.length + 1);
  });

  it('records a step that calls an idempotent tool in the answer and the results alone', async () => {
    const one = await turnOf(1, 'record_effect');
    const four = await turnOf(4, 'record_effect');
    expect(one.length, listing(one)).toBeLessThanOrEqual(perTurn - (perToolStep - perIdempotentToolStep));
    expect((four.length - one.length) / 3, listing(four)).toBeLessThanOrEqual(perIdempotentToolStep);
  });
});
