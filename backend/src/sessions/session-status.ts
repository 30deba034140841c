import type { SessionStatus } from '../database/index.ts';
import { AppError } from '../errors.ts';

export const sessionStatuses = ['running', 'paused', 'completed', 'failed'] as const satisfies readonly SessionStatus[];

/**
 * The status machine: `running ⇄ paused`, `running → completed | failed`, `failed → running`.
 * A session is `running` while it accepts turns, whether or not one is executing.
 */
const next: Record<SessionStatus, readonly SessionStatus[]> = {
  running: ['paused', 'completed', 'failed'],
  paused: ['running'],
  failed: ['running'],
  completed: [],
};

/** Throws 409 INVALID_TRANSITION, saying what the session could become instead. */
export function assertTransition(from: SessionStatus, to: SessionStatus): void {
  if (next[from].includes(to)) return;
  const options = next[from].length > 0 ? `it can become ${next[from].join(' or ')}` : 'it cannot change any more';
  throw new AppError('INVALID_TRANSITION', `A ${from} session cannot become ${to}: ${options}.`, { from, to, allowed: next[from] });
}
