import { sql } from 'kysely';
import type { Executor, PostgresDatabase } from '../database/index.ts';
import type { ReportedError } from '../errors.ts';
import type { NotificationService } from './notification-service.ts';
import type { RunDelivery } from './run-delivery.ts';
import type { RunLauncher } from './run-launcher.ts';
import type { TriggerDefinition } from './trigger-definition.ts';

/** How a triggered run ended, as its history shows it. */
export type RunOutcome = 'completed' | 'failed' | 'cancelled' | 'step_limit' | 'skipped';

export interface RunOutcomesDeps {
  database: PostgresDatabase;
  notifications: NotificationService;
  launcher: RunLauncher;
  /** Tells a run's end through the integration its trigger names, after the end is recorded. */
  delivery?: RunDelivery | undefined;
  onError: (error: unknown, context: string) => void;
}

/**
 * The end of triggered runs: a run's outcome is recorded once (a conditional update, whichever
 * instance sees it first), with what follows from it in the same transaction: the trigger's
 * failures in a row (reset by a success), the trigger pausing itself at its limit, and the user's
 * notifications. Runs end on any instance, so this looks at the database, not at local turns:
 * woken by `turn.ended` events and also on every tick, so an end no instance heard is still seen.
 */
export class RunOutcomes {
  private sweeping: Promise<number> | undefined;

  constructor(private readonly deps: RunOutcomesDeps) {}

  /** Records the outcome of every started run whose first turn has ended; returns how many. */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<number> {
    const ended = await this.deps.database.db
      .selectFrom('trigger_firings as f')
      .innerJoinLateral(
        (eb) =>
          eb
            .selectFrom('turns')
            .select(['turns.status', 'turns.error'])
            .whereRef('turns.session_id', '=', 'f.session_id')
            .orderBy('turns.started_at')
            .limit(1)
            .as('t'),
        (join) => join.onTrue(),
      )
      .select(['f.id', 'f.user_id', 'f.session_id', 't.status', 't.error'])
      .where('f.status', '=', 'started')
      .where('f.outcome', 'is', null)
      .where('t.status', 'not in', ['running', 'suspended', 'awaiting_approval'])
      .limit(100)
      .execute();
    let recorded = 0;
    for (const run of ended) {
      try {
        const answer = run.status === 'completed' ? await this.deps.launcher.answer(run.user_id, run.session_id!) : undefined;
        const error = run.error ?? undefined;
        const done = await this.deps.database.transaction((tx) =>
          recordOutcome(tx, this.deps.notifications, { firingId: run.id, outcome: run.status as RunOutcome, error, answer }),
        );
        if (done) {
          recorded += 1;
          await this.deps.delivery?.deliver(run.id, answer);
        }
      } catch (error) {
        this.deps.onError(error, 'could not record the outcome of a triggered run');
      }
    }
    return recorded;
  }
}

/**
 * Records a firing's outcome, if none is recorded yet, and what follows from it (see RunOutcomes).
 * Returns false when another instance recorded it first.
 */
export async function recordOutcome(
  tx: Executor,
  notifications: NotificationService,
  end: {
    firingId: string;
    outcome: RunOutcome;
    error?: ReportedError | undefined;
    answer?: string | undefined;
    final?: 'failed' | 'skipped';
  },
): Promise<boolean> {
  const firing = await tx
    .updateTable('trigger_firings')
    .set({
      outcome: end.outcome,
      ...(end.error ? { error: end.error } : {}),
      ...(end.final ? { status: end.final, lease_owner: null, lease_expires_at: null } : {}),
      finished_at: sql<Date>`now()`,
    })
    .where('id', '=', end.firingId)
    .where('outcome', 'is', null)
    .returning(['trigger_id', 'user_id', 'session_id', 'trigger_version'])
    .executeTakeFirst();
  if (!firing) return false;
  if (end.outcome === 'skipped') return true;
  const failed = end.outcome === 'failed' || end.outcome === 'step_limit';
  const trigger = await tx
    .updateTable('triggers')
    .set({
      consecutive_failures: failed
        ? sql<number>`consecutive_failures + 1`
        : end.outcome === 'completed'
          ? 0
          : sql<number>`consecutive_failures`,
    })
    .where('id', '=', firing.trigger_id)
    .returning(['id', 'name', 'status', 'consecutive_failures', 'version'])
    .executeTakeFirst();
  if (!trigger) return true;
  const data: Record<string, string> = {
    triggerId: trigger.id,
    firingId: end.firingId,
    ...(firing.session_id ? { sessionId: firing.session_id } : {}),
  };
  if (end.outcome !== 'cancelled') {
    await notifications.notify(
      firing.user_id,
      failed
        ? { kind: 'run_failed', title: `"${trigger.name}" failed`, body: end.error?.message ?? 'The run stopped at the step limit.', data }
        : { kind: 'run_completed', title: `"${trigger.name}" finished`, body: end.answer ?? '', data },
      tx,
    );
  }
  if (!failed || trigger.status !== 'active') return true;
  const definition = await tx
    .selectFrom('trigger_versions')
    .select('definition')
    .where('trigger_id', '=', trigger.id)
    .where('version', '=', trigger.version)
    .executeTakeFirst();
  const limit = (definition?.definition as unknown as TriggerDefinition | undefined)?.pauseAfterFailures ?? 3;
  if (trigger.consecutive_failures < limit) return true;
  const reason = `Paused after ${trigger.consecutive_failures} failed runs in a row.`;
  await tx
    .updateTable('triggers')
    .set({ status: 'paused', paused_reason: reason, updated_at: sql`now()` })
    .where('id', '=', trigger.id)
    .execute();
  await notifications.notify(
    firing.user_id,
    {
      kind: 'trigger_paused',
      title: `"${trigger.name}" paused itself`,
      body: `${reason} Resume it once the cause is fixed.`,
      data: { triggerId: trigger.id },
    },
    tx,
  );
  return true;
}
