import { sql } from 'kysely';
import type { PostgresDatabase } from '../database/index.ts';
import { isAppError, type ReportedError } from '../errors.ts';
import type { NotificationService } from './notification-service.ts';
import type { RunDelivery } from './run-delivery.ts';
import type { RunLauncher } from './run-launcher.ts';
import { recordOutcome } from './run-outcomes.ts';
import { claimFirings, type Claimed } from './firing-claims.ts';

export interface FiringStarterDeps {
  database: PostgresDatabase;
  launcher: RunLauncher;
  notifications: NotificationService;
  /** Tells a run that could not start through the integration its trigger names. */
  delivery?: RunDelivery | undefined;
  /** Names this instance in lease tokens. */
  instanceId: string;
  /** How long a claimed firing is held before another instance may start it. */
  leaseTtlMs: number;
  /** Triggered runs one user may have going at once; more wait. */
  maxInFlight: number;
  /** Crash tests' kill point between claiming a firing and starting its run. */
  reach: (point: 'firing-claimed') => void;
  onError: (error: unknown, context: string) => void;
}

/** Attempts at starting one firing before it fails for good (a server error each time). */
const maxAttempts = 5;
/** Runs this instance starts at once; each holds a few database round trips at a time. */
const parallel = 16;

/**
 * Starts firings, exactly once across instances and crashes. Firings are decided in batches (see
 * `claimFirings`): under the owning users' advisory locks the overlap policy and the in-flight
 * limit decide whether each starts, waits (queued, or pending until a run ends) or is skipped;
 * those that start are leased (`starting`) before their runs are launched. If the instance dies
 * there, the lease expires and any instance launches it again, and the launcher finds what was
 * already made: the run starts once. Up to `parallel` launches go at once, and a freed slot is
 * filled by the next batch without waiting for the slowest launch.
 */
export class FiringStarter {
  constructor(private readonly deps: FiringStarterDeps) {}

  /** Starts every firing that may start now; returns how many runs it launched. */
  async startDue(): Promise<number> {
    const looked = new Set<string>();
    const going = new Set<Promise<void>>();
    let launched = 0;
    for (;;) {
      const { claimed, passed, found } = await this.deps.database.transaction((tx) =>
        claimFirings(tx, { ...this.deps, limit: parallel - going.size, looked }),
      );
      for (const id of passed) looked.add(id);
      for (const one of claimed) {
        const launch: Promise<void> = this.launch(one).finally(() => going.delete(launch));
        going.add(launch);
      }
      launched += claimed.length;
      if (!found) break;
      if (going.size >= parallel) await Promise.race(going);
    }
    await Promise.all(going);
    return launched;
  }

  /** Launches a claimed firing's run and records it started; a refusal fails the firing for good. */
  private async launch({ firing, token, name, definition }: Claimed): Promise<void> {
    this.deps.reach('firing-claimed');
    try {
      const { sessionId } = await this.deps.launcher.launch({
        userId: firing.user_id,
        firingId: firing.id,
        triggerName: name,
        templateId: definition.templateId,
        agentId: definition.agentId,
        variables: { ...definition.variables, ...firing.input },
      });
      await this.deps.database.db
        .updateTable('trigger_firings')
        .set({ status: 'started', session_id: sessionId, started_at: sql<Date>`now()`, lease_owner: null, lease_expires_at: null })
        .where('id', '=', firing.id)
        .where('lease_owner', '=', token)
        .execute();
    } catch (error) {
      const refused = isAppError(error) && error.status < 500;
      if (!refused && firing.attempts < maxAttempts) {
        // Left to its lease: any instance tries again once it lapses.
        this.deps.onError(error, 'could not start a triggered run; it will be tried again');
        return;
      }
      const reported: ReportedError = isAppError(error)
        ? { code: error.code, message: error.message }
        : { code: 'INTERNAL', message: 'The run could not be started.' };
      const recorded = await this.deps.database
        .transaction((tx) =>
          recordOutcome(tx, this.deps.notifications, { firingId: firing.id, outcome: 'failed', error: reported, final: 'failed' }),
        )
        .catch((cause: unknown) => this.deps.onError(cause, 'could not record a triggered run that failed to start'));
      if (recorded) await this.deps.delivery?.deliver(firing.id);
    }
  }
}
