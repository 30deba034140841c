import { randomUUID } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import type { Executor, PostgresDatabase, TriggerFiringsTable } from '../database/index.ts';
import { isAppError, type ReportedError } from '../errors.ts';
import type { NotificationService } from './notification-service.ts';
import type { RunDelivery } from './run-delivery.ts';
import type { RunLauncher } from './run-launcher.ts';
import { recordOutcome } from './run-outcomes.ts';
import type { TriggerDefinition } from './trigger-definition.ts';

type FiringRow = Selectable<TriggerFiringsTable>;

/** A firing this instance decided to start, under its lease token. */
interface Claimed {
  firing: FiringRow;
  token: string;
  name: string;
  definition: TriggerDefinition;
}

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
/** Firings decided before their runs are started together. */
const parallel = 16;

/**
 * Starts firings, exactly once across instances and crashes. A firing is taken with `FOR UPDATE
 * SKIP LOCKED`; under a per-trigger advisory lock the overlap policy and the user's in-flight limit
 * decide whether it starts, waits (queued, or pending until a run ends) or is skipped; one that
 * starts is leased (`starting`) before its run is launched. If the instance dies there, the lease
 * expires and any instance launches it again, and the launcher finds what was already made: the
 * run starts once.
 */
export class FiringStarter {
  constructor(private readonly deps: FiringStarterDeps) {}

  /** Starts every firing that may start now; returns how many runs it launched. */
  async startDue(): Promise<number> {
    const looked = new Set<string>();
    let launched = 0;
    for (;;) {
      const batch: Claimed[] = [];
      while (batch.length < parallel) {
        const next = await this.decideNext(looked);
        if (next === undefined) break;
        if (next) batch.push(next);
      }
      if (batch.length === 0) return launched;
      await Promise.all(batch.map((claimed) => this.launch(claimed)));
      launched += batch.length;
    }
  }

  /** One firing decided: claimed to start, `null` when it waits or was skipped, undefined when none is left. */
  private decideNext(looked: Set<string>): Promise<Claimed | null | undefined> {
    return this.deps.database.transaction(async (tx) => {
      let select = tx
        .selectFrom('trigger_firings')
        .selectAll()
        .where((eb) =>
          eb.or([
            eb('status', 'in', ['pending', 'queued']),
            eb.and([eb('status', '=', 'starting'), eb('lease_expires_at', '<', sql<Date>`now()`)]),
          ]),
        );
      if (looked.size > 0) select = select.where('id', 'not in', [...looked]);
      const firing = await select.orderBy('fired_at').limit(1).forUpdate().skipLocked().executeTakeFirst();
      if (!firing) return undefined;
      looked.add(firing.id);
      await sql`select pg_advisory_xact_lock(hashtext(${`trigger:${firing.trigger_id}`}))`.execute(tx);
      const trigger = await tx
        .selectFrom('triggers as t')
        .innerJoin('trigger_versions as v', 'v.trigger_id', 't.id')
        .select(['t.status', 't.name', 'v.definition'])
        .where('t.id', '=', firing.trigger_id)
        .where('v.version', '=', firing.trigger_version)
        .executeTakeFirst();
      if (!trigger) return null;
      const definition = trigger.definition as unknown as TriggerDefinition;
      // Decided before a crash: launch again (the launcher finds what was made).
      if (firing.status !== 'starting') {
        if (trigger.status === 'paused' && firing.source !== 'manual') {
          await this.skip(tx, firing.id, 'The trigger was paused before this run started.');
          return null;
        }
        const wait = await this.mustWait(tx, firing, definition);
        if (wait) return null;
      }
      const token = `${this.deps.instanceId}/${randomUUID().slice(0, 8)}`;
      const claimed = await tx
        .updateTable('trigger_firings')
        .set({
          status: 'starting',
          lease_owner: token,
          lease_expires_at: sql<Date>`now() + make_interval(secs => ${this.deps.leaseTtlMs / 1000}::double precision)`,
          attempts: sql<number>`attempts + 1`,
        })
        .where('id', '=', firing.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return { firing: claimed, token, name: trigger.name, definition };
    });
  }

  /** The overlap policy and the in-flight limit: true when the firing does not start now (it waits or was skipped). */
  private async mustWait(tx: Executor, firing: FiringRow, definition: TriggerDefinition): Promise<boolean> {
    const counts = await tx
      .selectFrom('trigger_firings')
      .select((eb) => [
        eb.fn.countAll<string>().as('user'),
        eb.fn.countAll<string>().filterWhere('trigger_id', '=', firing.trigger_id).as('trigger'),
      ])
      .where('user_id', '=', firing.user_id)
      .where('id', '!=', firing.id)
      .where((eb) => eb.or([eb('status', '=', 'starting'), eb.and([eb('status', '=', 'started'), eb('outcome', 'is', null)])]))
      .executeTakeFirstOrThrow();
    if (Number(counts.trigger) > 0 && definition.overlap !== 'allow') {
      if (definition.overlap === 'skip' || firing.status === 'queued') {
        if (definition.overlap === 'skip') await this.skip(tx, firing.id, 'The previous run was still going.');
        return true;
      }
      const queued = await tx
        .selectFrom('trigger_firings')
        .select('id')
        .where('trigger_id', '=', firing.trigger_id)
        .where('status', '=', 'queued')
        .where('id', '!=', firing.id)
        .executeTakeFirst();
      if (queued) await this.skip(tx, firing.id, 'The previous run was still going, and one run already waits for it.');
      else await tx.updateTable('trigger_firings').set({ status: 'queued' }).where('id', '=', firing.id).execute();
      return true;
    }
    return Number(counts.user) >= this.deps.maxInFlight;
  }

  private async skip(tx: Executor, firingId: string, message: string): Promise<void> {
    await recordOutcome(tx, this.deps.notifications, {
      firingId,
      outcome: 'skipped',
      error: { code: 'RUN_SKIPPED', message },
      final: 'skipped',
    });
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
