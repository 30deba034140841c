import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgresCluster } from '../backend/test/postgres-cluster.ts';
import type { DatabaseTarget } from '../backend/src/database/index.ts';
import { compileTemplate, PromptEngine, type TemplateDefinition } from '../backend/src/templates/index.ts';
import { startBenchApp } from './bench-app.ts';
import { createDatabase, measure, type Bench, type BenchResult } from './harness.ts';

/** A template of the size the issue names: 20 variables of every type and 10 steps. */
function largeTemplate(slug = 'large-template'): TemplateDefinition {
  const types = ['string', 'number', 'boolean', 'enum', 'date', 'list'] as const;
  const variables = Array.from({ length: 20 }, (_, i) => {
    const type = types[i % types.length]!;
    return {
      name: `v${i}`,
      type,
      required: i < 5,
      ...(type === 'enum' ? { values: ['low', 'medium', 'high'] } : {}),
      description: `Variable ${i}`,
    };
  });
  const mention = (i: number) =>
    variables[i]!.type === 'boolean'
      ? `{{#v${i}}}flagged{{/v${i}}}`
      : variables[i]!.type === 'list'
        ? `{{#v${i}}}- {{.}}\n{{/v${i}}}`
        : `{{v${i}}}`;
  return {
    slug,
    name: 'Quarterly account review',
    description: 'Reviews an account across mail, calendar, chat and documents and writes the quarterly review.',
    category: 'Reporting',
    tags: ['review', 'accounts'],
    systemPrompt: `You prepare the quarterly review.\n${variables.map((_, i) => `Input ${i}: ${mention(i)}`).join('\n')}`,
    userPrompt: 'Prepare the review for {{v0}}.',
    variables,
    integrations: { required: ['gmail', 'google-calendar'], optional: ['slack', 'github'] },
    steps: Array.from({ length: 10 }, (_, i) => ({
      instruction: `Step ${i + 1}: gather what concerns {{v${i % 5}}} and note it.`,
      tools: [['gmail__list_unread'], ['google-calendar__list_events'], ['slack__get_channel_history'], ['knowledge_search'], []][i % 5]!,
    })),
    examples: ['prepare the quarterly account review'],
  };
}

function values(seed: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < 20; i++) {
    const kind = i % 6;
    out[`v${i}`] = [`account ${seed}-${i}`, seed + i, i % 2 === 0, 'medium', '2026-12-01', ['ann', 'bob', `c${seed}`]][kind];
  }
  return out;
}

const words =
  'invoice budget hiring roadmap onboarding release incident vendor contract travel expense survey forecast audit campaign launch backlog sprint retro newsletter'.split(
    ' ',
  );
const verbs = 'prepare summarise review draft plan track collect organise check update'.split(' ');

/** 190 distinct user templates, so with the built-ins a user matches against 200. */
function syntheticTemplate(i: number): TemplateDefinition {
  const noun = `${words[i % words.length]} ${words[(i * 7 + 3) % words.length]}`;
  const verb = verbs[i % verbs.length]!;
  return {
    slug: `synthetic-${i}`,
    name: `${verb} the ${noun} ${i}`,
    description: `Helps ${verb} the ${noun} for team ${i % 13}.`,
    category: 'Synthetic',
    tags: [],
    systemPrompt: `You ${verb} the ${noun}.`,
    variables: [],
    integrations: { required: [], optional: [] },
    steps: [{ instruction: `${verb} it.` }],
    examples: [`${verb} our ${noun}`, `help me ${verb} the ${noun}`, `${noun} ${verb} please`],
  };
}

async function benchHttp(target: DatabaseTarget, dataDir: string, record: (result: BenchResult) => void): Promise<void> {
  const driver = target.driver;
  const { runtime, userId, post, close } = await startBenchApp(target, dataDir);
  try {
    const { template } = await post<{ template: { id: string } }>('/v1/templates', largeTemplate());
    const body = { variables: values(1), integrations: ['gmail', 'google-calendar', 'slack'] };
    await post(`/v1/templates/${template.id}/prompt`, body);
    record(
      await measure(
        { name: 'POST /v1/templates/:id/prompt, cached (HTTP)', driver, target: 'p95 ≤ 5 ms (spec: 100 ms)' },
        async () => {
          if ((await post<{ cache: string }>(`/v1/templates/${template.id}/prompt`, body)).cache !== 'hit')
            throw new Error('expected a cache hit');
        },
        { n: 2000 },
      ),
    );
    for (let i = 0; i < 190; i++) await runtime.templates.create(userId, syntheticTemplate(i));
    const count = (await runtime.templates.list(userId)).length;
    const messages = [
      'triage my inbox and draft replies',
      'help me review the release roadmap',
      'what did I miss in slack yesterday',
      'plan the budget forecast',
    ];
    let m = 0;
    record(
      await measure(
        { name: `POST /v1/templates/match, ${count} templates (HTTP)`, driver, target: 'p95 ≤ 20 ms' },
        () => post('/v1/templates/match', { message: `${messages[m++ % messages.length]} ${m}` }),
        { n: 500, warmup: 20 },
      ),
    );
  } finally {
    await close();
  }
}

const bench: Bench = async ({ record }) => {
  const definition = largeTemplate();
  const engine = new PromptEngine({ maxEntries: 1000 });
  const request = (seed: number) => ({
    variables: values(seed),
    connected: ['gmail', 'google-calendar', 'slack'],
    knowledgeBase: true,
    user: { name: 'Bench', timezone: 'Europe/Berlin' },
  });
  const ref = { id: 'bench', version: 1, compiled: compileTemplate(definition) };
  const cachedRequest = request(0);
  record(
    await measure(
      { name: 'prompt engine, 20 variables, 10 steps, cached', driver: 'in-process', target: 'p95 ≤ 1 ms' },
      async () => engine.generate(ref, cachedRequest),
      {
        n: 20_000,
        warmup: 500,
      },
    ),
  );
  let seed = 1;
  record(
    await measure(
      { name: 'prompt engine, 20 variables, 10 steps, uncached', driver: 'in-process', target: 'p95 ≤ 5 ms' },
      async () => engine.generate(ref, request(seed++)),
      {
        n: 5_000,
        warmup: 200,
      },
    ),
  );

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-bench-templates-'));
  const cluster = await startPostgresCluster();
  try {
    await benchHttp({ driver: 'pglite', dataDir: path.join(dataDir, 'pglite') }, dataDir, record);
    await benchHttp({ driver: 'postgres', url: await createDatabase(cluster.url, 'agentry_bench_templates') }, dataDir, record);
  } finally {
    await cluster.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
};

export default bench;
