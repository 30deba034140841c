import { Cron } from 'croner';
import { AppError } from '../errors.ts';

/** When a schedule fires: a cron expression read in an IANA time zone, or a fixed interval. */
export type ScheduleSpec = { cron: string; timezone: string } | { everySeconds: number; timezone: string };

/** The most fire instants one look computes: a bound on work, whatever the schedule or the gap. */
const maxInstants = 1000;

/**
 * A schedule's fire instants. Cron times are local to the schedule's zone and follow its
 * daylight-saving changes as `croner` does: a local time skipped by the spring change fires once,
 * just after the gap, and one repeated by the autumn change fires once, at its first occurrence.
 * An interval counts from an anchor instant, so restarts never shift it.
 */
export class Schedule {
  private readonly cron: Cron | undefined;

  constructor(
    readonly spec: ScheduleSpec,
    /** Where an interval counts from (the trigger's creation); cron schedules ignore it. */
    private readonly anchor: Date,
  ) {
    if (!isTimeZone(spec.timezone)) throw new AppError('VALIDATION_FAILED', `"${spec.timezone}" is not an IANA time zone.`);
    if ('cron' in spec) {
      try {
        this.cron = new Cron(spec.cron, { timezone: spec.timezone, paused: true });
      } catch (error) {
        throw new AppError('VALIDATION_FAILED', `The cron expression is not valid: ${(error as Error).message}`);
      }
      if (!this.cron.nextRun(anchor)) throw new AppError('VALIDATION_FAILED', 'The cron expression never fires.');
    }
  }

  /** The first fire instant strictly after `after`, or null when there is none. */
  next(after: Date): Date | null {
    if (this.cron) return this.cron.nextRun(after);
    const every = (this.spec as { everySeconds: number }).everySeconds * 1000;
    const steps = Math.floor((after.getTime() - this.anchor.getTime()) / every) + 1;
    return new Date(this.anchor.getTime() + Math.max(1, steps) * every);
  }

  /** The next `count` fire instants after `after`: what a schedule helper shows. */
  upcoming(after: Date, count: number): Date[] {
    const out: Date[] = [];
    let at: Date | null = after;
    while (out.length < Math.min(count, maxInstants) && (at = this.next(at))) out.push(at);
    return out;
  }

  /** Every fire instant in (`after`, `until`], oldest first, at most `maxInstants` (the newest kept). */
  between(after: Date, until: Date): Date[] {
    const out: Date[] = [];
    let at: Date | null = after;
    while ((at = this.next(at)) && at.getTime() <= until.getTime()) {
      out.push(at);
      if (out.length > maxInstants) out.shift();
    }
    return out;
  }
}

/** Whether `zone` names an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  if (zone.length === 0 || zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
