import http from 'node:http';
import { sendRequest, type Answer } from './hostile-request.ts';
import type { HostileCase, Sender } from './openapi-cases.ts';

export interface Outcome {
  case: HostileCase;
  answer: Answer;
  /** When it was sent and answered, on performance.now()'s clock (to tell which cases a slow /health overlapped). */
  start: number;
  end: number;
  /** The server stopped answering after this case and was restarted. */
  blockedServer?: boolean;
}

/** The server under test, as the runner needs it: where it is, and a way back when a case blocked it. */
export interface ServerControl {
  url(): string;
  /** Answers /health within a couple of seconds. */
  alive(): Promise<boolean>;
  restart(): Promise<void>;
}

export interface RunOptions {
  server: ServerControl;
  tokens: Record<Sender, string | undefined>;
  concurrency: number;
  /** A case gets no longer than this before it counts as unanswered. */
  timeoutMs: number;
  /** No case starts after this time (ms since the epoch); the rest are reported as not run. */
  deadline: number;
  /** Restarts allowed before the run gives up on this server. */
  maxRestarts: number;
}

/**
 * Sends the cases with a few in flight at once. A case left unanswered is followed by a look at
 * /health: a server that no longer answers is restarted (the case is reported as having blocked
 * it), so one bug cannot hang the suite or hide every case after it.
 */
export async function runCases(cases: HostileCase[], options: RunOptions, state = { restarts: 0 }): Promise<Outcome[]> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const outcomes: Outcome[] = new Array(cases.length);
  let next = 0;
  let recovering: Promise<void> | undefined;

  const recover = async (): Promise<boolean> => {
    if (await options.server.alive()) return false;
    if (state.restarts >= options.maxRestarts) throw new Error('the server stopped answering too often');
    state.restarts += 1;
    await options.server.restart();
    return true;
  };

  const worker = async () => {
    while (next < cases.length) {
      const index = next++;
      const hostile = cases[index]!;
      await recovering;
      if (Date.now() > options.deadline || state.restarts > options.maxRestarts) {
        outcomes[index] = {
          case: hostile,
          answer: { text: '', ms: 0, error: 'not run: the run ran out of time or restarts' },
          start: 0,
          end: 0,
        };
        continue;
      }
      const token = options.tokens[hostile.sender];
      const headers = {
        ...(token && !hostile.request.headers.authorization ? { authorization: `Bearer ${token}` } : {}),
        ...hostile.request.headers,
      };
      const start = performance.now();
      const answer = await sendRequest(options.server.url(), { ...hostile.request, headers }, { timeoutMs: options.timeoutMs, agent });
      outcomes[index] = { case: hostile, answer, start, end: performance.now() };
      if (answer.status === undefined) {
        recovering ??= recover()
          .then((restarted) => {
            if (restarted) outcomes[index]!.blockedServer = true;
          })
          .catch(() => {
            state.restarts = options.maxRestarts + 1;
          })
          .finally(() => (recovering = undefined));
        await recovering;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  agent.destroy();
  return outcomes;
}
