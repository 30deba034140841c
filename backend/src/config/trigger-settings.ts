import { int } from './value-schemas.ts';

/** Triggers: how often instances look for due work, how long a claimed firing is held, limits of runs and webhooks. */
export const triggerSettings = {
  TRIGGER_TICK_MS: int(50, 60_000)
    .default(1000)
    .describe('How often every instance looks for due schedules and polls, firings to start and triggered runs that ended.'),
  TRIGGER_LEASE_TTL_MS: int(1000, 600_000)
    .default(30_000)
    .describe('How long an instance holds a firing it claimed while its session starts; past it, another instance starts it (once).'),
  TRIGGER_MAX_IN_FLIGHT: int(1, 10_000)
    .default(10)
    .describe('Triggered runs one user may have going at once; further firings wait for one to end.'),
  WEBHOOK_MAX_BYTES: int(1024, 10 * 1024 * 1024)
    .default(256 * 1024)
    .describe('The largest webhook delivery body accepted (bytes); larger ones answer 413.'),
  WEBHOOK_SECRET_GRACE_HOURS: int(0, 720)
    .default(24)
    .describe('After a webhook secret is rotated, how long the previous one is still accepted.'),
} as const;
