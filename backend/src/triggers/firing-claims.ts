import { randomUUID } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import type { Executor, TriggerFiringsTable } from '../database/index.ts';
import type { NotificationService } from './notification-service.ts';
import { recordOutcome } from './run-outcomes.ts';
import type { TriggerDefinition } from './trigger-definition.ts';

export type FiringRow = Selectable<TriggerFiringsTable>;

/** A firing this instance decided to start, under its lease token. */
export interface Claimed {
  firing: FiringRow;
  token: string;
  name: string;
  definition: TriggerDefinition;
}

export interface ClaimOptions {
  notifications: NotificationService;
  /** Names this instance in lease tokens. */
  instanceId: string;
  leaseTtlMs: number;
  /** Triggered runs one user may have going at once. */
  maxInFlight: number;
  /** At most this many firings are looked at. */
  limit: number;
  /** Firings that already waited in this pass: not looked at again. */
  looked: ReadonlySet<string>;
}

export interface ClaimResult {
  claimed: Claimed[];
  /** Firings looked at that did not start now (they wait, were skipped, or lost their trigger). */
  passed: string[];
  /** Whether there was anything left to look at. */
  found: boolean;
}

/** Counts of one user's or one trigger's runs, kept up to date while a batch is decided. */
class Tally {
  private readonly counts = new Map<string, number>();
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  add(key: string, n: number): void {
    this.counts.set(key, this.get(key) + n);
  }
}

/**
 * Decides a batch of firings in one transaction, with the same outcome as deciding them one by
 * one: the firings are taken with `FOR UPDATE SKIP LOCKED`; an advisory lock per owning user
 * (taken in one order, so two instances never deadlock) makes the overlap policy and the user's
 * in-flight limit exact across instances; the runs going are counted once, and each firing the
 * batch starts or queues is added to those counts before the next is decided. The firings that
 * start are leased (`starting`) in one update before the transaction commits.
 */
export async function claimFirings(tx: Executor, options: ClaimOptions): Promise<ClaimResult> {
  let select = tx
    .selectFrom('trigger_firings')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb('status', 'in', ['pending', 'queued']),
        eb.and([eb('status', '=', 'starting'), eb('lease_expires_at', '<', sql<Date>`now()`)]),
      ]),
    );
  if (options.looked.size > 0) select = select.where('id', 'not in', [...options.looked]);
  const firings = await select.orderBy('fired_at').limit(options.limit).forUpdate().skipLocked().execute();
  if (firings.length === 0) return { claimed: [], passed: [], found: false };
  const userIds = [...new Set(firings.map((f) => f.user_id))];
  await sql`select count(pg_advisory_xact_lock(h)) from (
      select distinct hashtext('trigger-user:' || u) as h from unnest(${userIds}::text[]) as u order by h) as locks`.execute(tx);
  const [triggers, going] = await Promise.all([
    tx
      .selectFrom('triggers as t')
      .innerJoin('trigger_versions as v', 'v.trigger_id', 't.id')
      .select(['t.id', 't.status', 't.name', 'v.version', 'v.definition'])
      .where((eb) => eb.or(firings.map((f) => eb.and([eb('t.id', '=', f.trigger_id), eb('v.version', '=', f.trigger_version)]))))
      .execute(),
    tx
      .selectFrom('trigger_firings')
      .select((eb) => [
        'user_id',
        'trigger_id',
        eb.fn.countAll<string>().filterWhere('status', '!=', 'queued').as('going'),
        eb.fn.countAll<string>().filterWhere('status', '=', 'queued').as('queued'),
      ])
      .where('user_id', 'in', userIds)
      .where((eb) => eb.or([eb('status', 'in', ['starting', 'queued']), eb.and([eb('status', '=', 'started'), eb('outcome', 'is', null)])]))
      .groupBy(['user_id', 'trigger_id'])
      .execute(),
  ]);
  const byUser = new Tally();
  const byTrigger = new Tally();
  const queuedOf = new Tally();
  for (const row of going) {
    byUser.add(row.user_id, Number(row.going));
    byTrigger.add(row.trigger_id, Number(row.going));
    queuedOf.add(row.trigger_id, Number(row.queued));
  }
  const skip = (firingId: string, message: string) =>
    recordOutcome(tx, options.notifications, { firingId, outcome: 'skipped', error: { code: 'RUN_SKIPPED', message }, final: 'skipped' });
  /** The overlap policy and the in-flight limit for a firing not yet decided: whether it starts now (else it waits or was skipped). */
  const mayStart = async (firing: FiringRow, paused: boolean, definition: TriggerDefinition): Promise<boolean> => {
    const queued = firing.status === 'queued';
    const busy = byTrigger.get(firing.trigger_id) > 0 && definition.overlap !== 'allow';
    const pausedFirst = paused && firing.source !== 'manual';
    if (pausedFirst || (busy && definition.overlap === 'skip')) {
      if (queued) queuedOf.add(firing.trigger_id, -1);
      await skip(firing.id, pausedFirst ? 'The trigger was paused before this run started.' : 'The previous run was still going.');
      return false;
    }
    if (busy) {
      if (queued) return false;
      if (queuedOf.get(firing.trigger_id) > 0) {
        await skip(firing.id, 'The previous run was still going, and one run already waits for it.');
      } else {
        await tx.updateTable('trigger_firings').set({ status: 'queued' }).where('id', '=', firing.id).execute();
        queuedOf.add(firing.trigger_id, 1);
      }
      return false;
    }
    if (byUser.get(firing.user_id) >= options.maxInFlight) return false;
    if (queued) queuedOf.add(firing.trigger_id, -1);
    byUser.add(firing.user_id, 1);
    byTrigger.add(firing.trigger_id, 1);
    return true;
  };
  const starting: { firing: FiringRow; name: string; definition: TriggerDefinition }[] = [];
  const passed: string[] = [];
  for (const firing of firings) {
    const trigger = triggers.find((t) => t.id === firing.trigger_id && t.version === firing.trigger_version);
    const definition = trigger?.definition as unknown as TriggerDefinition;
    // One decided before a crash is launched again (the launcher finds what was made); it is counted already.
    if (trigger && (firing.status === 'starting' || (await mayStart(firing, trigger.status === 'paused', definition)))) {
      starting.push({ firing, name: trigger.name, definition });
    } else passed.push(firing.id);
  }
  if (starting.length === 0) return { claimed: [], passed, found: true };
  const token = `${options.instanceId}/${randomUUID().slice(0, 8)}`;
  const leased = await tx
    .updateTable('trigger_firings')
    .set({
      status: 'starting',
      lease_owner: token,
      lease_expires_at: sql<Date>`now() + make_interval(secs => ${options.leaseTtlMs / 1000}::double precision)`,
      attempts: sql<number>`attempts + 1`,
    })
    .where(
      'id',
      'in',
      starting.map((s) => s.firing.id),
    )
    .returningAll()
    .execute();
  const rows = new Map(leased.map((row) => [row.id, row]));
  return {
    claimed: starting.map(({ firing, name, definition }) => ({ firing: rows.get(firing.id) ?? firing, token, name, definition })),
    passed,
    found: true,
  };
}
