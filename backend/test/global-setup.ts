import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import type { TestProject } from 'vitest/node';
import { startPostgresCluster } from './postgres-cluster.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
    pgliteTemplate: string;
  }
}

/**
 * Once per test run: a PostgreSQL server shared by every suite (each suite makes its own
 * database), and an initialised embedded data directory that suites copy instead of paying for
 * initdb each time.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [cluster, template] = await Promise.all([startPostgresCluster(), makePgliteTemplate()]);
  project.provide('postgresUrl', cluster.url);
  project.provide('pgliteTemplate', template);
  return async () => {
    await cluster.stop();
    fs.rmSync(path.dirname(template), { recursive: true, force: true });
  };
}

async function makePgliteTemplate(): Promise<string> {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-pglite-template-')), 'pglite');
  const db = await PGlite.create(dir, { extensions: { vector } });
  await db.close();
  return dir;
}
