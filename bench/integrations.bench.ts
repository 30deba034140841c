import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startFakeMcpServer } from '../backend/test/fake-mcp-server.ts';
import { startPostgresCluster } from '../backend/test/postgres-cluster.ts';
import type { DatabaseTarget } from '../backend/src/database/index.ts';
import { ToolRegistry } from '../backend/src/integrations/index.ts';
import { startBenchApp } from './bench-app.ts';
import { createDatabase, measure, percentile, type Bench, type BenchResult } from './harness.ts';

/**
 * Integration discovery and tool calls against MCP servers built with the MCP SDK on 127.0.0.1:
 * two connections (mail-like, calendar-like), five tools in the registry.
 */
async function benchDriver(target: DatabaseTarget, dataDir: string, record: (result: BenchResult) => void): Promise<void> {
  const driver = target.driver;
  const accepts = (token: string) => token === 'bench-key';
  const mail = await startFakeMcpServer('mail', { accepts });
  const calendar = await startFakeMcpServer('calendar', { accepts });
  const catalogue = path.join(dataDir, `integrations-${driver}.yaml`);
  fs.writeFileSync(
    catalogue,
    `providers:
  - { id: mail, name: Mail, auth: { type: api_key }, mcp: { transport: streamable-http, url: '${mail.url}' } }
  - { id: cal, name: Calendar, auth: { type: api_key }, mcp: { transport: streamable-http, url: '${calendar.url}' } }
`,
  );
  const { runtime, userId, post, close } = await startBenchApp(target, dataDir, {
    INTEGRATIONS_CATALOGUE: catalogue,
    OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
    RATE_LIMIT_INTEGRATION_DISCOVERY: '1000000',
    INTEGRATIONS_HEALTH_INTERVAL_MS: '0',
  });
  try {
    const ids: string[] = [];
    for (const provider of ['mail', 'cal'])
      ids.push((await post<{ connection: { id: string } }>(`/v1/integrations/${provider}/connect`, { apiKey: 'bench-key' })).connection.id);
    const listed = await runtime.integrationTools.discover(userId, true);
    const toolCount = listed.reduce((n, i) => n + i.tools.length, 0);
    if (toolCount !== 5) throw new Error(`expected 5 tools in the registry, found ${toolCount}`);

    record({
      ...(await measure(
        { name: 'integration discovery from the registry (in-process)', driver, target: 'p95 ≤ 2 ms (spec: 50 ms)' },
        () => runtime.integrationTools.discover(userId, false),
        { n: 2000, warmup: 100 },
      )),
      note: "served from the instance's cache of the user's connections and tools",
    });
    // What the first discovery after a change reads: the user's connections, and their tools.
    const registry = new ToolRegistry(runtime.database, runtime.events.bus);
    record({
      ...(await measure(
        { name: 'integration discovery, cold (after a change; in-process)', driver },
        () => Promise.all([runtime.integrations.connections(userId), registry.forUser(userId)]),
        { n: 1000, warmup: 50 },
      )),
      note: 'the two queries a discovery makes when a change has dropped the cache',
    });
    record(
      await measure(
        { name: 'integration discovery from the registry (HTTP)', driver, target: 'p95 ≤ 5 ms (spec: 50 ms)' },
        () => post('/v1/integrations/discover', {}),
        { n: 2000, warmup: 100 },
      ),
    );
    record({
      ...(await measure(
        { name: 'live tool listing from a local MCP server (in-process)', driver, target: 'p95 ≤ 25 ms' },
        () => runtime.integrationTools.refresh(ids[0]!),
        { n: 500, warmup: 20 },
      )),
      note: 'tools/list over Streamable HTTP on a kept-open client, plus the registry update (one transaction)',
    });

    // Agentry's overhead on a tool call: the same call through Agentry (credential lookup, retries,
    // the usage row and its event in one transaction) and straight from an MCP SDK client, in
    // pairs; each figure is one pair's difference.
    const direct = new Client({ name: 'bench', version: '1' });
    await direct.connect(
      new StreamableHTTPClientTransport(new URL(mail.url), { requestInit: { headers: { authorization: 'Bearer bench-key' } } }),
    );
    const [unread] = await runtime.integrationTools.forSession(userId, ['mail__list_unread']);
    const overhead: number[] = [];
    const own: number[] = [];
    for (let i = 0; i < 600; i++) {
      const t0 = performance.now();
      await direct.callTool({ name: 'list_unread', arguments: {} });
      const t1 = performance.now();
      await unread!.execute({}, { idempotencyKey: `bench:${i}` });
      const t2 = performance.now();
      if (i >= 50) {
        own.push(t1 - t0);
        overhead.push(t2 - t1 - (t1 - t0));
      }
    }
    await direct.close();
    overhead.sort((a, b) => a - b);
    own.sort((a, b) => a - b);
    record({
      name: 'tool-call overhead Agentry adds (in-process)',
      driver,
      n: overhead.length,
      p50: percentile(overhead, 50),
      p95: percentile(overhead, 95),
      p99: percentile(overhead, 99),
      throughput: 0,
      target: 'p95 ≤ 5 ms',
      note: `(call through Agentry) − (the same call from a bare MCP client), paired; the bare call's own p50 ${percentile(own, 50).toFixed(2)} ms, p95 ${percentile(own, 95).toFixed(2)} ms`,
    });
  } finally {
    await close();
    await mail.close();
    await calendar.close();
  }
}

const bench: Bench = async ({ record }) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-bench-integrations-'));
  const cluster = await startPostgresCluster();
  try {
    await benchDriver({ driver: 'pglite', dataDir: path.join(dataDir, 'pglite') }, dataDir, record);
    await benchDriver({ driver: 'postgres', url: await createDatabase(cluster.url, 'agentry_bench_integrations') }, dataDir, record);
  } finally {
    await cluster.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
};

export default bench;
