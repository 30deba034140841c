import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startPostgresCluster } from '../backend/test/postgres-cluster.ts';
import type { DatabaseTarget } from '../backend/src/database/index.ts';
import { startBenchApp } from './bench-app.ts';
import { createDatabase, load, percentile, type Bench, type BenchResult } from './harness.ts';

/*
 * What the OpenAI-compatible endpoint adds to a turn over the REST path: one local:offline turn
 * in a session that already exists, sent as `POST /v1/conversations/:id/messages?wait=true` and
 * as `POST /v1/openai/chat/completions` naming the session (with the whole history, as clients
 * send it), answered whole and streamed to `[DONE]`. The three kinds alternate, each in its own
 * sessions of ten turns, so the machine's noise falls on all alike.
 */

const turns = 300;
const warmup = 30;
const turnsPerSession = 10;
const kindNames = ['rest', 'openai', 'stream'] as const;

/** One kept-alive connection; answers the status and the body as text (JSON or server-sent events). */
function client(base: string, token: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const { hostname, port } = new URL(base);
  return (url: string, body: unknown, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const request = http.request(
        {
          host: hostname,
          port,
          path: url,
          method: 'POST',
          agent,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: response.headers }),
          );
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
}

async function benchDriver(target: DatabaseTarget, dataDir: string, record: (result: BenchResult) => void): Promise<void> {
  const driver = target.driver;
  const app = await startBenchApp(target, dataDir);
  const post = client(app.url, app.token);
  const ok = <T extends { status: number; text: string }>(what: string, response: T): T => {
    if (response.status < 200 || response.status >= 300) throw new Error(`${what} answered ${response.status}: ${response.text}`);
    return response;
  };
  try {
    const newSession = async () =>
      (JSON.parse(ok('POST /v1/sessions', await post('/v1/sessions', {})).text) as { session: { id: string; conversationId: string } })
        .session;
    const kinds = {
      rest: { session: await newSession(), history: [] as Array<{ role: string; content: string }>, times: [] as number[] },
      openai: { session: await newSession(), history: [] as Array<{ role: string; content: string }>, times: [] as number[] },
      stream: { session: await newSession(), history: [] as Array<{ role: string; content: string }>, times: [] as number[] },
    };
    for (let i = 0; i < turns + warmup; i++) {
      const order = kindNames.map((_, j) => kindNames[(j + i) % kindNames.length]!);
      for (const kind of order) {
        const state = kinds[kind];
        if (i > 0 && i % turnsPerSession === 0) {
          state.session = await newSession();
          state.history = [];
        }
        const content = `Note number ${i}, nothing to look up.`;
        state.history.push({ role: 'user', content });
        const t0 = performance.now();
        let answer: string;
        if (kind === 'rest') {
          const response = ok('REST turn', await post(`/v1/conversations/${state.session.conversationId}/messages?wait=true`, { content }));
          answer = (JSON.parse(response.text) as { message: { content: string } }).message.content;
        } else {
          const body = { model: 'assistant', messages: state.history, ...(kind === 'stream' ? { stream: true } : {}) };
          const response = ok(
            'chat completion',
            await post('/v1/openai/chat/completions', body, { 'x-agentry-session': state.session.id }),
          );
          if (kind === 'stream') {
            if (!response.text.trimEnd().endsWith('data: [DONE]')) throw new Error(`a stream did not end with [DONE]: ${response.text}`);
            answer = response.text
              .split('\n\n')
              .filter((e) => e.startsWith('data: {'))
              .map((e) => (JSON.parse(e.slice(6)) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '')
              .join('');
          } else answer = (JSON.parse(response.text) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;
        }
        const elapsed = performance.now() - t0;
        if (!answer) throw new Error(`a ${kind} turn answered no text`);
        state.history.push({ role: 'assistant', content: answer });
        if (i >= warmup) state.times.push(elapsed);
      }
    }
    const rest = [...kinds.rest.times].sort((a, b) => a - b);
    const row = (name: string, times: number[], note: string, targetText = ''): BenchResult => {
      const sorted = [...times].sort((a, b) => a - b);
      return {
        name,
        driver,
        n: sorted.length,
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        throughput: 0,
        target: targetText,
        note,
      };
    };
    record(row('one turn over REST (messages?wait=true; local:offline)', rest, load()));
    for (const [kind, label] of [
      ['openai', 'one turn as an OpenAI chat completion (x-agentry-session)'],
      ['stream', 'one turn as a streamed OpenAI chat completion, to [DONE]'],
    ] as const) {
      const times = kinds[kind].times;
      const sorted = [...times].sort((a, b) => a - b);
      const added = (p: number) => (percentile(sorted, p) - percentile(rest, p)).toFixed(2);
      record(row(label, times, `adds p50 ${added(50)} ms, p95 ${added(95)} ms over REST; ${load()}`, 'adds p95 ≤ 5 ms'));
    }
  } finally {
    await app.close();
  }
}

const bench: Bench = async ({ record, options }) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-bench-openai-'));
  const only = options.get('driver');
  try {
    if (only === undefined || only === 'pglite')
      await benchDriver({ driver: 'pglite', dataDir: path.join(dataDir, 'pglite') }, dataDir, record);
    if (only === undefined || only === 'postgres') {
      const cluster = await startPostgresCluster();
      try {
        await benchDriver({ driver: 'postgres', url: await createDatabase(cluster.url, 'agentry_bench_openai') }, dataDir, record);
      } finally {
        await cluster.stop();
      }
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
};

export default bench;
