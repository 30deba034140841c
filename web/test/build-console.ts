import { fileURLToPath } from 'node:url';
import { build } from 'vite';

/** Once per test run: the console is built from the sources under test, never a stale build. */
export default async function setup(): Promise<void> {
  await build({ configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)), logLevel: 'warn' });
}
