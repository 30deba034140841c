import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../src/config.ts';
import type { DatabaseDriver, DatabaseTarget } from '../src/database/index.ts';
import { createRuntime, type Runtime } from '../src/runtime.ts';
import { buildApp } from '../src/server/index.ts';
import { createTestDatabase, type TestTargetOptions } from './test-database.ts';

export interface TestApp {
  app: FastifyInstance;
  runtime: Runtime;
  config: Config;
  /** An admin's token, and a second, ordinary user's. */
  adminToken: string;
  userToken: string;
  userId: string;
  /** Where its database is, to open a second instance on it. */
  target: DatabaseTarget;
  /** Every route the app registered. */
  routes: { method: string; url: string }[];
  close(): Promise<void>;
}

/** The secret key of test servers on PostgreSQL (a server deployment must set one). */
export const testSecretKey = Buffer.alloc(32, 9).toString('base64');

/** The real app on a fresh database of the given driver, with an admin and an ordinary user. */
export async function createTestApp(
  driver: DatabaseDriver,
  env: Record<string, string> = {},
  /** `background: false`: no workers start (turn recovery, triggers), for suites that drive them themselves. */
  options: { now?: () => number; background?: boolean } & TestTargetOptions = {},
): Promise<TestApp> {
  const test = await createTestDatabase(driver, { withoutPgvector: options.withoutPgvector ?? false });
  const where =
    test.target.driver === 'postgres'
      ? { DATABASE_URL: test.target.url, AGENTRY_SECRET_KEY: testSecretKey }
      : { AGENTRY_DATA_DIR: test.dataDir ?? '' };
  const storageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-documents-'));
  const config = loadConfig({ ...where, KB_STORAGE_DIR: storageDir, LOG_LEVEL: 'silent', ...env }, process.cwd());
  const runtime = await createRuntime(config, test.database, { warn: () => undefined, info: () => undefined }, options);
  const routes: { method: string; url: string }[] = [];
  const app = await buildApp(runtime, {
    logger: false,
    onRoute: (route) => routes.push(route),
    ...(options.now ? { now: options.now } : {}),
  });
  await app.ready();
  const admin = await runtime.users.create({ email: 'admin@example.test', admin: true }, { userId: null, ip: null });
  const user = await runtime.users.create({ email: 'user@example.test', name: 'User' }, { userId: null, ip: null });
  return {
    app,
    runtime,
    config,
    adminToken: admin.token,
    userToken: user.token,
    userId: user.user.id,
    routes,
    target: test.target,
    // The order main.ts shuts down in: the server stops taking requests, then the runtime closes
    // everything it started (so a closing step added there runs at the end of every suite), then
    // the suite's database goes (closing it again is a no-op).
    async close() {
      await app.close();
      await runtime.close();
      await test.drop();
      fs.rmSync(storageDir, { recursive: true, force: true });
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
