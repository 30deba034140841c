import { setTimeout as sleep } from 'node:timers/promises';
import type { SessionRow, TurnRow, TurnStore } from '../sessions/index.ts';

/** A turn claimed for recovery, with the lease token it was claimed under. */
export type ClaimedTurn = TurnRow & { token: string };

export interface TurnRecoveryDeps {
  turns: TurnStore;
  leases: {
    recoveryIntervalMs: number;
    /** Recoveries of one turn after which it fails (RECOVERY_EXHAUSTED) rather than resumes. */
    maxRecoveries: number;
    /** No other instance can reach the database: at start, every running turn is a crashed one. */
    exclusive?: boolean | undefined;
  };
  /** Executes a claimed turn here, from where it is recorded to be. */
  resume: (start: { session: SessionRow; turn: ClaimedTurn; token: string }) => void;
  onError: (error: unknown, context: string) => void;
}

/**
 * Recovery: turns whose execution went away (its instance died, or lost the database) are found by
 * their expired lease, claimed and resumed here, at start and then periodically; a turn recovered
 * too often fails instead, so a turn that crashes its instance cannot crash every instance in turn.
 */
export class TurnRecovery {
  private timer: NodeJS.Timeout | undefined;
  private recovering: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: TurnRecoveryDeps) {}

  /** Resumes turns left by instances that died (at once, then periodically). */
  async start(): Promise<void> {
    await this.recover({ evenUnexpired: this.deps.leases.exclusive === true });
    this.timer = setInterval(() => void this.recover(), this.deps.leases.recoveryIntervalMs);
    this.timer.unref();
  }

  /** Looks no more, and waits for a look under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.recovering;
  }

  /**
   * Gives a lease up once the database answers again, so a recovery need not wait for it to
   * lapse; gives up itself when the lease would have lapsed anyway, or on stop.
   */
  async releaseWhenReachable(turn: { turnId: string; token: string }): Promise<void> {
    const deadline = Date.now() + this.deps.turns.leaseTtlMs;
    while (Date.now() < deadline && !this.stopped) {
      await sleep(250);
      try {
        await this.deps.turns.release(turn);
        return;
      } catch {
        // Still out of reach: the lease lapses by itself.
      }
    }
  }

  /** Claims turns whose lease expired (at start, with `evenUnexpired`, every running turn) and resumes them. */
  private recover(options: { evenUnexpired?: boolean } = {}): Promise<void> {
    if (this.stopped || this.recovering) return this.recovering ?? Promise.resolve();
    this.recovering = (async () => {
      try {
        let claimed: ClaimedTurn[];
        do {
          claimed = await this.deps.turns.reclaimExpired(10, options);
          await this.resume(claimed);
        } while (claimed.length === 10);
      } catch (error) {
        this.deps.onError(error, 'could not look for turns to recover');
      } finally {
        this.recovering = undefined;
      }
    })();
    return this.recovering;
  }

  /** Resumes claimed turns here; a turn recovered too often fails its session instead. */
  private async resume(claimed: readonly ClaimedTurn[]): Promise<void> {
    for (const turn of claimed) {
      try {
        if (turn.recoveries > this.deps.leases.maxRecoveries) await this.deps.turns.unattended.exhaust(turn);
        else {
          const session = await this.deps.turns.session(turn.session_id);
          if (session) this.deps.resume({ session, turn, token: turn.token });
        }
      } catch (error) {
        this.deps.onError(error, `could not resume turn ${turn.id}`);
      }
    }
  }
}
