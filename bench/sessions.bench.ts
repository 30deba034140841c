import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeChatCompletions } from '../backend/test/fake-chat-completions.ts';
import { startPostgresCluster } from '../backend/test/postgres-cluster.ts';
import type { DatabaseTarget } from '../backend/src/database/index.ts';
import { startBenchApp } from './bench-app.ts';
import { createDatabase, measure, percentile, type Bench, type BenchResult } from './harness.ts';

const template = {
  slug: 'bench-report',
  name: 'Weekly report',
  description: 'Writes the weekly report for a team.',
  category: 'Reporting',
  systemPrompt: 'Write the weekly report of {{team}} for the week of {{week}}.',
  variables: [
    { name: 'team', type: 'string', required: true },
    { name: 'week', type: 'date', required: true },
  ],
  steps: [{ instruction: 'Collect what happened.' }, { instruction: 'Write the report.' }],
};

const stepsPerTurn = 10;

async function benchDriver(target: DatabaseTarget, dataDir: string, record: (result: BenchResult) => void): Promise<void> {
  const driver = target.driver;
  const model = await startFakeChatCompletions();
  const { database, post, close } = await startBenchApp(target, dataDir, {
    MODEL_ENDPOINTS: `fake=${model.url}`,
    CUSTOM_TOOLS: 'backend/test/fixtures/effect-counter-tool.ts',
    SESSION_MAX_STEPS: String(stepsPerTurn),
  });
  try {
    const { template: created } = await post<{ template: { id: string } }>('/v1/templates', template);
    const start = () =>
      post<{ session: { conversationId: string } }>('/v1/sessions', {
        templateId: created.id,
        variables: { team: 'Platform', week: '2026-11-23' },
        context: { project: 'apollo' },
      });
    const target = driver === 'postgres' ? 'p95 ≤ 10 ms (spec: 500 ms)' : 'p95 ≤ 25 ms (spec: 500 ms)';
    record(
      await measure({ name: 'session init (template, prompt, first checkpoint; HTTP)', driver, target }, start, { n: 500, warmup: 20 }),
    );

    // A one-step turn of local:offline, end to end, minus the model call the message records; in
    // conversations of ten turns, since every step reads its conversation's history. An agent's
    // session: a template's run ends (completed) once the offline responder has walked its steps.
    const { agent: chatty } = await post<{ agent: { id: string } }>('/v1/agents', { name: 'Chatty', model: 'local:offline' });
    const chat = () => post<{ session: { conversationId: string } }>('/v1/sessions', { agentId: chatty.id });
    const overheads: number[] = [];
    let session = (await chat()).session;
    for (let i = 0; i < 300; i++) {
      if (i > 0 && i % 10 === 0) session = (await chat()).session;
      const t0 = performance.now();
      const { message } = await post<{ message: { latencyMs: number } }>(`/v1/conversations/${session.conversationId}/messages?wait=true`, {
        content: `Note number ${i}, nothing to look up.`,
      });
      overheads.push(performance.now() - t0 - message.latencyMs);
    }
    overheads.sort((a, b) => a - b);
    record({
      name: 'turn persistence overhead (all but the model call; HTTP)',
      driver,
      n: overheads.length,
      p50: percentile(overheads, 50),
      p95: percentile(overheads, 95),
      p99: percentile(overheads, 99),
      throughput: 0,
      note: 'a whole one-step turn: its user-message, step and turn-end transactions, streamed deltas and HTTP',
    });

    // Per step: turns of ten steps (nine calls of a custom tool that returns at once, then an
    // answer) from a model server on 127.0.0.1; a step's overhead is the turn's wall time minus
    // its model calls, over its steps. So it holds the step's transaction, the history read, the
    // tool's progress events, and a tenth of the turn's own transactions and HTTP.
    const { agent } = await post<{ agent: { id: string } }>('/v1/agents', { name: 'Stepper', model: 'fake:stepper' });
    const perStep: number[] = [];
    for (let i = 0; i < 60; i++) {
      const { session: stepper } = await post<{ session: { conversationId: string } }>('/v1/sessions', { agentId: agent.id });
      for (let call = 1; call < stepsPerTurn; call++)
        model.replies.push({ kind: 'tool-call', name: 'apply_effect', arguments: { label: `step ${call}` }, id: `call_${call}` });
      model.replies.push({ kind: 'text', text: 'All ten steps are done.' });
      const t0 = performance.now();
      const { turn } = await post<{ turn: { id: string; status: string } }>(
        `/v1/conversations/${stepper.conversationId}/messages?wait=true`,
        { content: 'Go.' },
      );
      const wall = performance.now() - t0;
      if (turn.status !== 'completed') throw new Error(`a ten-step turn ended ${turn.status}`);
      const calls = await database.db.selectFrom('model_calls').select('latency_ms').where('turn_id', '=', turn.id).execute();
      if (calls.length !== stepsPerTurn) throw new Error(`a ten-step turn made ${calls.length} model calls`);
      if (i >= 5) perStep.push((wall - calls.reduce((sum, c) => sum + c.latency_ms, 0)) / stepsPerTurn);
    }
    perStep.sort((a, b) => a - b);
    record({
      name: 'per-step persistence overhead (ten-step turns; HTTP)',
      driver,
      n: perStep.length,
      p50: percentile(perStep, 50),
      p95: percentile(perStep, 95),
      p99: percentile(perStep, 99),
      throughput: 0,
      target: driver === 'postgres' ? 'p95 ≤ 5 ms' : '',
      note: 'per turn: (wall time − its model calls) / 10 steps; each figure is one turn',
    });

    // 100 sessions, 10 turns each, all started together.
    const sessions = await Promise.all(Array.from({ length: 100 }, () => chat()));
    let inFlight = 0;
    let peak = 0;
    const t0 = performance.now();
    await Promise.all(
      sessions.map(async ({ session: s }) => {
        for (let turn = 0; turn < 10; turn++) {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await post(`/v1/conversations/${s.conversationId}/messages?wait=true`, { content: `Status update ${turn}.` });
          inFlight--;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const conversations = sessions.map((s) => s.session.conversationId);
    const counts = await database.db
      .selectFrom('messages')
      .select(['conversation_id', (eb) => eb.fn.countAll<string>().as('n'), (eb) => eb.fn.count<string>('step').distinct().as('steps')])
      .where('conversation_id', 'in', conversations)
      .groupBy('conversation_id')
      .execute();
    const turns = await database.db
      .selectFrom('turns')
      .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
      .where('conversation_id', 'in', conversations)
      .groupBy('status')
      .execute();
    const intact = counts.length === 100 && counts.every((c) => Number(c.n) === 20);
    record({
      name: '100 sessions × 10 turns together (local:offline)',
      driver,
      n: 1000,
      p50: Number.NaN,
      p95: Number.NaN,
      p99: Number.NaN,
      throughput: 1000 / seconds,
      note: `peak ${peak} turns in flight; ${intact ? 'every conversation has its 20 messages' : 'MESSAGES LOST OR DUPLICATED'}; turns ${turns.map((t) => `${t.status} ${t.n}`).join(', ')}`,
    });
  } finally {
    await close();
    await model.close();
  }
}

const bench: Bench = async ({ record }) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-bench-sessions-'));
  const cluster = await startPostgresCluster();
  try {
    await benchDriver({ driver: 'pglite', dataDir: path.join(dataDir, 'pglite') }, dataDir, record);
    await benchDriver({ driver: 'postgres', url: await createDatabase(cluster.url, 'agentry_bench_sessions') }, dataDir, record);
  } finally {
    await cluster.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
};

export default bench;
