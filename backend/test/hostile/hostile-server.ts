import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DatabaseDriver } from '../../src/database/index.ts';
import { freePort } from '../postgres-cluster.ts';
import { runEntry } from '../server-process.ts';
import { testSecretKey } from '../test-app.ts';
import { createTestTarget } from '../test-database.ts';
import type { ServerControl } from './case-runner.ts';

/** The real server (`main.ts`) in its own process, on a database of its own. */
export interface HostileServer extends ServerControl {
  adminToken: string;
  /** The error the server logged for a request, by its x-request-id. */
  errorFor(requestId: string | undefined): string | undefined;
  restarts: number;
  stop(): Promise<void>;
}

type Run = ReturnType<typeof runEntry>;

/**
 * Starts the server as `npm start` would, logging errors only (each 500 with its cause, which the
 * report quotes). A server that a case blocked is killed and started again on the same database.
 */
export async function startHostileServer(driver: DatabaseDriver, settings: Record<string, string>): Promise<HostileServer> {
  const target = await createTestTarget(driver);
  const dataDir = target.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-hostile-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    ...settings,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    AGENTRY_DATA_DIR: dataDir,
    ...(target.target.driver === 'postgres' ? { DATABASE_URL: target.target.url, AGENTRY_SECRET_KEY: testSecretKey } : {}),
  };
  let earlier = '';
  let run = await launch(env, url);
  const adminToken = /^Admin token: (agt_\S+)$/m.exec(run.output())?.[1];
  if (!adminToken) throw new Error(`the server printed no admin token:\n${run.output()}`);

  const server: HostileServer = {
    adminToken,
    restarts: 0,
    url: () => url,
    alive: async () => (await fetch(`${url}/health`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined))?.status === 200,
    async restart() {
      server.restarts += 1;
      earlier += run.output();
      run.child.kill('SIGKILL');
      await run.exited;
      run = await launch(env, url);
    },
    errorFor(requestId) {
      if (!requestId) return undefined;
      const line = (earlier + run.output()).split('\n').find((l) => l.includes(`"reqId":"${requestId}"`) && l.includes('"err"'));
      if (!line) return undefined;
      const { err } = JSON.parse(line) as { err: { type?: string; message?: string } };
      return `${err.type ?? 'Error'}: ${(err.message ?? '').split('\n')[0]!.slice(0, 200)}`;
    },
    async stop() {
      run.child.kill('SIGTERM');
      const stopped = await Promise.race([run.exited, new Promise((resolve) => setTimeout(() => resolve(undefined), 10_000))]);
      if (!stopped) {
        run.child.kill('SIGKILL');
        await run.exited;
      }
      await target.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Starts the process and waits until /health answers; an embedded database still locked by a killed one is waited for. */
async function launch(env: Record<string, string>, url: string): Promise<Run> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const run = runEntry('main', [], env);
    let exited = false;
    void run.exited.then(() => (exited = true));
    while (!exited && Date.now() < deadline) {
      const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      if (health?.status === 200) return run;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!exited) run.child.kill('SIGKILL');
    if (!/DATABASE_LOCKED/.test(run.output()) || Date.now() >= deadline) throw new Error(`the server did not start:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
