import type { Page } from 'playwright-core';
import { expect, inject } from 'vitest';
// Declares what the global setup provides (the embedded database template).
import type {} from '../../backend/test/global-setup.ts';
import { accessibilityViolations, startConsoleServer, type ConsoleHarness } from './console-server.ts';

export type { ConsoleHarness } from './console-server.ts';

/** The console on a fresh embedded database copied from the run's template (see console-server.ts). */
export function startConsole(env: Record<string, string> = {}): Promise<ConsoleHarness> {
  return startConsoleServer(env, { pgliteTemplate: inject('pgliteTemplate') });
}

/** Runs axe on the page as it is now; fails on any serious or critical violation, naming each. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  expect(await accessibilityViolations(page), `axe on ${what}`).toEqual([]);
}
