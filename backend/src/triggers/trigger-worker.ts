import type { EventBus } from '../events/index.ts';
import type { FiringStarter } from './firing-starter.ts';
import type { RunOutcomes } from './run-outcomes.ts';
import type { ScheduleSweep } from './schedule-sweep.ts';

export interface TriggerWorkerDeps {
  sweep: ScheduleSweep;
  /** Integration-event polls; none where they are not wired. */
  poller?: { pollDue(): Promise<unknown> } | undefined;
  starter: FiringStarter;
  outcomes: RunOutcomes;
  bus: EventBus;
  tickMs: number;
  onError: (error: unknown, context: string) => void;
}

/**
 * The background side of triggers on one instance: every tick (and whenever woken, by a webhook
 * delivery, a fire-now or a triggered run's turn that ended) it turns due schedules and polls into firings, starts
 * the firings that may start, and records the runs that ended. Every instance runs one; the
 * database decides who does what, so any number of them fire each firing once.
 */
export class TriggerWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** Until `start`, a wake does nothing: an instance without background work (the CLI) never fires. */
  private stopped = true;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: TriggerWorkerDeps) {}

  start(): void {
    this.stopped = false;
    this.unsubscribe = this.deps.bus.subscribe((event) => {
      // Other sessions' turns end far more often, and nothing here waits for them.
      if (event.type === 'turn.ended' && event.data.triggered) this.wake();
    });
    this.timer = setInterval(() => this.wake(), this.deps.tickMs);
    this.timer.unref();
    this.wake();
  }

  /** Looks now; calls during a look coalesce into one more look. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.tick().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** One look: schedules and polls into firings, firings into runs, ended runs into outcomes. Errors are reported, not thrown. */
  async tick(): Promise<void> {
    const { sweep, poller, starter, outcomes, onError } = this.deps;
    await sweep.sweep().catch((error: unknown) => onError(error, 'could not fire due schedules'));
    if (poller) await poller.pollDue().catch((error: unknown) => onError(error, 'could not poll integration triggers'));
    await outcomes.sweep().catch((error: unknown) => onError(error, 'could not record ended triggered runs'));
    await starter.startDue().catch((error: unknown) => onError(error, 'could not start triggered runs'));
  }

  /** Looks no more, and waits for a look under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
    while (this.running) await this.running;
  }
}
