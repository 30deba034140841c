import { sql } from 'kysely';
import type { PostgresDatabase } from '../database/index.ts';
import { Schedule, type ScheduleSpec } from './schedule.ts';
import type { TriggerDefinition } from './trigger-definition.ts';

/** A schedule's fire instant as a firing key: one firing per (trigger, instant), whoever looks. */
export const scheduleKey = (at: Date) => `schedule:${at.toISOString()}`;

/** The schedule a stored definition describes, counted from `anchor` (intervals). */
export function scheduleOf(definition: TriggerDefinition, anchor: Date): Schedule {
  return new Schedule(definition.schedule as ScheduleSpec, anchor);
}

/**
 * Which of a schedule's due instants fire, by the trigger's missed-run policy. An instant more than
 * `lateAfterMs` old was missed (no instance was running then); younger ones are just due. `skip`
 * drops the missed ones, `run_once` fires the newest missed one when nothing is due now, and
 * `catch_up` fires each missed one inside the catch-up window.
 */
export function instantsToFire(due: Date[], definition: TriggerDefinition, now: number, lateAfterMs: number): Date[] {
  const missed = due.filter((at) => at.getTime() < now - lateAfterMs);
  const onTime = due.filter((at) => at.getTime() >= now - lateAfterMs);
  switch (definition.missedRuns) {
    case 'skip':
      return onTime;
    case 'run_once':
      return onTime.length > 0 || missed.length === 0 ? onTime : [missed.at(-1)!];
    case 'catch_up':
      return [...missed.filter((at) => at.getTime() >= now - definition.catchUpWindowSeconds * 1000), ...onTime];
  }
}

export interface ScheduleSweepOptions {
  database: PostgresDatabase;
  /** The clock schedules are read against (injected in tests). */
  now: () => number;
  /** How late an instant may be before it counts as missed. */
  lateAfterMs: number;
  /** Triggers handled per transaction. */
  batch?: number;
}

/**
 * Turns due schedules into firings. Each look claims due triggers with `FOR UPDATE SKIP LOCKED`
 * (instances looking at once take different ones), writes a firing per instant to fire (unique
 * per trigger and instant, so a trigger looked at twice still fires each instant once) and moves
 * the trigger's `next_fire_at` past now, all in one transaction: a crash leaves either both or
 * neither. Returns how many firings it wrote.
 */
export class ScheduleSweep {
  constructor(private readonly options: ScheduleSweepOptions) {}

  async sweep(): Promise<number> {
    let fired = 0;
    for (;;) {
      const { claimed, written } = await this.sweepBatch();
      fired += written;
      if (claimed < (this.options.batch ?? 200)) return fired;
    }
  }

  private async sweepBatch(): Promise<{ claimed: number; written: number }> {
    const { database, lateAfterMs } = this.options;
    const batch = this.options.batch ?? 200;
    const now = this.options.now();
    return database.transaction(async (tx) => {
      const due = await tx
        .selectFrom('triggers as t')
        .innerJoin('trigger_versions as v', (join) => join.onRef('v.trigger_id', '=', 't.id').onRef('v.version', '=', 't.version'))
        .select(['t.id', 't.user_id', 't.version', 't.next_fire_at', 't.created_at', 'v.definition'])
        .where('t.status', '=', 'active')
        .where('t.kind', '=', 'schedule')
        .where('t.next_fire_at', '<=', new Date(now))
        .orderBy('t.next_fire_at')
        .limit(batch)
        .forUpdate('t')
        .skipLocked()
        .execute();
      if (due.length === 0) return { claimed: 0, written: 0 };
      const firings: Array<{
        trigger_id: string;
        user_id: string;
        trigger_version: number;
        fire_key: string;
        source: 'schedule';
        scheduled_at: Date;
      }> = [];
      const next: Array<{ id: string; at: Date | null }> = [];
      for (const trigger of due) {
        const definition = trigger.definition as unknown as TriggerDefinition;
        const schedule = scheduleOf(definition, trigger.created_at);
        const first = trigger.next_fire_at!;
        const instants = [first, ...schedule.between(first, new Date(now))];
        for (const at of instantsToFire(instants, definition, now, lateAfterMs)) {
          firings.push({
            trigger_id: trigger.id,
            user_id: trigger.user_id,
            trigger_version: trigger.version,
            fire_key: scheduleKey(at),
            source: 'schedule',
            scheduled_at: at,
          });
        }
        next.push({ id: trigger.id, at: schedule.next(new Date(now)) });
      }
      const written =
        firings.length === 0
          ? []
          : await tx
              .insertInto('trigger_firings')
              .values(firings)
              .onConflict((oc) => oc.columns(['trigger_id', 'fire_key']).doNothing())
              .returning('id')
              .execute();
      // One statement for every trigger's next instant.
      const ids = next.map((n) => n.id);
      const ats = next.map((n) => n.at?.toISOString() ?? null);
      await sql`update triggers set next_fire_at = n.at, updated_at = now()
        from unnest(${ids}::uuid[], ${ats}::timestamptz[]) as n(id, at) where triggers.id = n.id`.execute(tx);
      return { claimed: due.length, written: written.length };
    });
  }
}
