import { z } from 'zod';
import { faultPoints } from '../fault-injection.ts';
import { commaList, int } from './value-schemas.ts';

/** Sessions and their turns: steps, spend, checkpoints, leases, recovery, retention, crash tests. */
export const sessionSettings = {
  CUSTOM_TOOLS: z
    .string()
    .default('')
    .describe(
      'Comma-separated paths of tool modules (in-house tools) offered to sessions; each default-exports {name, description, inputSchema, idempotent?, execute}.',
    ),
  SPEND_LIMIT_MONTHLY_USD: z.coerce
    .number()
    .positive()
    .optional()
    .describe(
      'Language-model spend per user per calendar month (UTC), in US dollars; past it, new messages answer 429 QUOTA_EXCEEDED. Unset: no limit.',
    ),
  SESSION_MAX_STEPS: int(1, 100).default(8).describe('Model calls per turn; a turn that keeps calling tools ends with step_limit.'),
  SESSION_CHECKPOINT_RETENTION: int(1, 100_000)
    .default(50)
    .describe('Unnamed checkpoints kept per session (the newest); named ones are always kept.'),
  SESSION_LEASE_TTL_MS: int(1000, 600_000)
    .default(30_000)
    .describe(
      'How long an instance holds a running turn without renewing it (renewed every third of this); an expired lease is reclaimed and the turn resumed.',
    ),
  SESSION_RECOVERY_INTERVAL_MS: int(100, 600_000)
    .default(5000)
    .describe('How often every instance looks for turns whose lease expired, and resumes them (also at start).'),
  SESSION_MAX_RECOVERIES: int(0, 100).default(3).describe('Resumptions of one turn after which its session fails with RECOVERY_EXHAUSTED.'),
  SESSION_RETENTION_DAYS: int(0, 36_500)
    .default(90)
    .describe(
      'Completed and failed sessions inactive this long are removed, with their conversations, checkpoints, ledger and events; 0 keeps them.',
    ),
  FAULT_INJECTION_KILL_AT: commaList(
    (v) => (faultPoints as readonly string[]).includes(v),
    `must list fault points among ${faultPoints.join(', ')}`,
  ).describe(
    `For crash tests only, off by default: the process kills itself (SIGKILL) on reaching any listed point of a turn (${faultPoints.join(', ')}).`,
  ),
} as const;
