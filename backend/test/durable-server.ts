import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import pg from 'pg';
import { startServer, type ServerProcess } from './server-process.ts';

/**
 * Servers for crash tests: child processes on one PostgreSQL database, with the tools of
 * fixtures/durable-effect-tools.ts (their effects logged to a file that outlives any process),
 * short leases and frequent recovery, so a killed instance's turns are resumed within seconds.
 */
export class DurableServers {
  readonly effectLog: string;
  readonly dataDir: string;
  /** Every instance on one database shares its secret key. */
  private readonly secretKey = randomBytes(32).toString('base64');
  token = '';
  private readonly running = new Set<ServerProcess>();

  constructor(readonly databaseUrl: string) {
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-durable-'));
    this.effectLog = path.join(this.dataDir, 'effects.jsonl');
    fs.writeFileSync(this.effectLog, '');
  }

  /** Starts an instance; the first start creates the admin, whose token the others reuse. */
  async start(settings: Record<string, string> = {}): Promise<ServerProcess> {
    const server = await startServer({
      DATABASE_URL: this.databaseUrl,
      AGENTRY_SECRET_KEY: this.secretKey,
      AGENTRY_DATA_DIR: this.dataDir,
      CUSTOM_TOOLS: 'backend/test/fixtures/durable-effect-tools.ts',
      EFFECT_LOG: this.effectLog,
      SESSION_LEASE_TTL_MS: '1500',
      SESSION_RECOVERY_INTERVAL_MS: '200',
      // Instances started only to be killed may claim a turn and die with it, again and again.
      SESSION_MAX_RECOVERIES: '100',
      ...settings,
    });
    const admin = /^Admin token: (agt_[A-Za-z0-9_-]{43})$/m.exec(server.output());
    if (admin) this.token = admin[1]!;
    this.running.add(server);
    void server.exited.then(() => this.running.delete(server));
    return server;
  }

  async call<T = Record<string, unknown>>(
    server: ServerProcess,
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; json: T }> {
    const response = await fetch(`${server.url}${url}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json().catch(() => ({}))) as T };
  }

  async newSession(server: ServerProcess): Promise<{ id: string; conversationId: string }> {
    const { status, json } = await this.call<{ session: { id: string; conversationId: string } }>(server, 'POST', '/v1/sessions', {});
    expect(status).toBe(201);
    return json.session;
  }

  /** Effects logged per idempotency key. */
  effects(): Map<string, Array<{ tool: string; pid: number }>> {
    const byKey = new Map<string, Array<{ tool: string; pid: number }>>();
    for (const line of fs.readFileSync(this.effectLog, 'utf8').split('\n').filter(Boolean)) {
      const effect = JSON.parse(line) as { tool: string; key: string; pid: number };
      byKey.set(effect.key, [...(byKey.get(effect.key) ?? []), { tool: effect.tool, pid: effect.pid }]);
    }
    return byKey;
  }

  async kill(server: ServerProcess): Promise<void> {
    server.child.kill('SIGKILL');
    await server.exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((server) => this.kill(server)));
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Reads the database directly, as an auditor would. */
export async function query<T>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Waits until every turn of the sessions has ended or is suspended; returns them. */
export async function settledTurns(
  url: string,
  sessionIds: string[],
  timeoutMs = 30_000,
): Promise<Array<{ id: string; session_id: string; status: string; error: { code: string } | null; recoveries: number }>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const turns = await query<{ id: string; session_id: string; status: string; error: { code: string } | null; recoveries: number }>(
      url,
      'select id, session_id, status, error, recoveries from turns where session_id = any($1) order by started_at',
      [sessionIds],
    );
    if (turns.every((t) => t.status !== 'running')) return turns;
    if (Date.now() > deadline)
      throw new Error(`turns still running after ${timeoutMs} ms: ${JSON.stringify(turns.filter((t) => t.status === 'running'))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * What must hold after any crash: effects applied at most once per key (exactly once for every
 * call the ledger recorded as succeeded), and no step or tool result recorded twice.
 */
export async function expectNothingLostOrDoubled(servers: DurableServers, sessionIds: string[]): Promise<void> {
  const effects = servers.effects();
  for (const [key, applied] of effects) expect(applied, `effects of ${key}`).toHaveLength(1);
  const succeeded = await query<{ idempotency_key: string }>(
    servers.databaseUrl,
    `select idempotency_key from tool_calls where session_id = any($1) and status = 'completed' and not is_error`,
    [sessionIds],
  );
  for (const entry of succeeded) expect(effects.has(entry.idempotency_key), `the effect of ${entry.idempotency_key}`).toBe(true);
  const steps = await query<{ turn_id: string; step: number; role: string; tool_call_id: string | null; n: string }>(
    servers.databaseUrl,
    `select turn_id, step, role, tool_call_id, count(*) as n from messages where session_id = any($1) and role <> 'user'
     group by turn_id, step, role, tool_call_id having count(*) > 1`,
    [sessionIds],
  );
  expect(steps, 'steps recorded twice').toEqual([]);
}
