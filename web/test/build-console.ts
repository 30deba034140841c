import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const web = fileURLToPath(new URL('..', import.meta.url));

function newestChange(entry: string): number {
  const stat = fs.statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...fs.readdirSync(entry).map((name) => newestChange(path.join(entry, name))));
}

/**
 * Once per test run: the console the browser tests load is built from the sources under test.
 * A build newer than every source is kept (`npm ci` has just made one), so a run does not empty
 * `web/dist` under a server that is serving it.
 */
export default async function setup(): Promise<void> {
  const built = path.join(web, 'dist', 'index.html');
  const sources = Math.max(...['src', 'index.html', 'vite.config.ts'].map((entry) => newestChange(path.join(web, entry))));
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs > sources) return;
  await build({ configFile: path.join(web, 'vite.config.ts'), logLevel: 'warn' });
}
