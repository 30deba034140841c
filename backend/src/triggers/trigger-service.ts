import { randomUUID } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import { decodeCursor, encodeCursor, isUuid, toJsonText, type PostgresDatabase, type TriggersTable } from '../database/index.ts';
import { AppError } from '../errors.ts';
import type { AgentService } from '../sessions/index.ts';
import type { PromptUser, TemplateService } from '../templates/index.ts';
import { scheduleOf } from './schedule-sweep.ts';
import { Schedule, type ScheduleSpec } from './schedule.ts';
import type { PollTools } from './integration-poller.ts';
import { deliveryTools, scheduleSchema, triggerInputSchema, type TriggerDefinition, type TriggerInput } from './trigger-definition.ts';

type ScheduleInput = NonNullable<TriggerInput['schedule']>;
import type { WebhookSecrets } from './webhook-secrets.ts';

export interface TriggerView {
  id: string;
  name: string;
  kind: TriggerDefinition['kind'];
  status: 'active' | 'paused';
  pausedReason: string | null;
  version: number;
  definition: TriggerDefinition;
  nextFireAt: string | null;
  /** A schedule's next five fire instants (in its time zone's terms, as instants). */
  upcoming: string[];
  consecutiveFailures: number;
  /** Where a webhook trigger takes deliveries. */
  webhookPath: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface RunView {
  id: string;
  source: string;
  triggerVersion: number;
  status: string;
  outcome: string | null;
  scheduledAt: string | null;
  firedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  sessionId: string | null;
  error: { code: string; message: string } | null;
}

export interface TriggerServiceDeps {
  database: PostgresDatabase;
  templates: TemplateService;
  agents: AgentService;
  secrets: WebhookSecrets;
  /** The user's connected integrations' tools, which polls and deliveries call. */
  tools: PollTools;
  now: () => number;
  /** Asks the worker to look now (a fire-now, a delivery). */
  wake: () => void;
}

/**
 * A user's triggers: saved (each save a new version; runs keep the version they fired with),
 * checked when saved (the template or agent exists, mapped variables are the template's, the
 * schedule parses in its zone, the tools it polls or delivers through are connected), paused,
 * resumed, fired now and deleted, with their run history.
 */
export class TriggerService {
  constructor(private readonly deps: TriggerServiceDeps) {}

  /** Saves a new trigger; a webhook's secret is in the answer, this once. */
  async create(user: PromptUser, input: TriggerInput): Promise<{ trigger: TriggerView; secret?: string }> {
    const definition = await this.check(user, input);
    const id = randomUUID();
    const sealed = definition.kind === 'webhook' ? this.deps.secrets.issue(user.id, id) : undefined;
    await this.deps.database.transaction(async (tx) => {
      await tx
        .insertInto('triggers')
        .values({
          id,
          user_id: user.id,
          name: definition.name,
          kind: definition.kind,
          next_fire_at: this.firstFireAt(definition, new Date(this.deps.now())),
          ...(sealed ? { secret: sealed.record.sealed, secret_key_id: sealed.record.keyId } : {}),
        })
        .execute();
      await tx
        .insertInto('trigger_versions')
        .values({ trigger_id: id, version: 1, definition: toJsonText(definition) })
        .execute();
    });
    return { trigger: await this.get(user.id, id), ...(sealed ? { secret: sealed.secret } : {}) };
  }

  async list(userId: string): Promise<TriggerView[]> {
    const rows = await this.withDefinition().where('t.user_id', '=', userId).orderBy('t.created_at', 'desc').limit(500).execute();
    return rows.map((row) => this.toView(row));
  }

  async get(userId: string, id: string): Promise<TriggerView> {
    return this.toView(await this.row(userId, id));
  }

  /** Saves a new version; the trigger's kind stays. A schedule's next instant is computed again from now. */
  async update(user: PromptUser, id: string, input: TriggerInput): Promise<TriggerView> {
    const current = await this.row(user.id, id);
    const definition = await this.check(user, input);
    if (definition.kind !== current.kind)
      throw new AppError('VALIDATION_FAILED', `A ${current.kind} trigger stays one: create a new trigger instead.`);
    await this.deps.database.transaction(async (tx) => {
      const row = await tx
        .updateTable('triggers')
        .set({
          name: definition.name,
          version: sql<number>`version + 1`,
          next_fire_at: this.firstFireAt(definition, new Date(this.deps.now())),
          // Another tool or answer shape lists other items: the next poll sets a new baseline.
          ...(pollSource(definition) !== pollSource(current.definition as unknown as TriggerDefinition) ? { watermark: null } : {}),
          updated_at: sql`now()`,
        })
        .where('id', '=', id)
        .where('version', '=', current.version)
        .returning('version')
        .executeTakeFirst();
      if (!row) throw new AppError('CONFLICT', 'The trigger was changed at the same time: read it again.');
      await tx
        .insertInto('trigger_versions')
        .values({ trigger_id: id, version: row.version, definition: toJsonText(definition) })
        .execute();
    });
    return this.get(user.id, id);
  }

  async delete(userId: string, id: string): Promise<void> {
    if (!isUuid(id)) throw new AppError('TRIGGER_NOT_FOUND');
    const result = await this.deps.database.db.deleteFrom('triggers').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    if (result.numDeletedRows === 0n) throw new AppError('TRIGGER_NOT_FOUND');
  }

  async pause(userId: string, id: string): Promise<TriggerView> {
    await this.row(userId, id);
    await this.deps.database.db
      .updateTable('triggers')
      .set({ status: 'paused', paused_reason: 'Paused by you.', updated_at: sql`now()` })
      .where('id', '=', id)
      .execute();
    return this.get(userId, id);
  }

  /** Resumes from now: instants that passed while it was paused are not run; its failures in a row start again at 0. */
  async resume(userId: string, id: string): Promise<TriggerView> {
    const current = await this.row(userId, id);
    await this.deps.database.db
      .updateTable('triggers')
      .set({
        status: 'active',
        paused_reason: null,
        consecutive_failures: 0,
        // A poll's failures in a row, too.
        watermark: sql`case when watermark is null then null else watermark || '{"failures":0}'::jsonb end`,
        next_fire_at: this.firstFireAt(current.definition as unknown as TriggerDefinition, new Date(this.deps.now())),
        updated_at: sql`now()`,
      })
      .where('id', '=', id)
      .execute();
    return this.get(userId, id);
  }

  /** A firing now, whatever the schedule or status (a paused trigger too): it starts as soon as the overlap policy and in-flight limit allow. */
  async fireNow(userId: string, id: string): Promise<RunView> {
    const trigger = await this.row(userId, id);
    const row = await this.deps.database.db
      .insertInto('trigger_firings')
      .values({ trigger_id: id, user_id: userId, trigger_version: trigger.version, fire_key: `manual:${randomUUID()}`, source: 'manual' })
      .returningAll()
      .executeTakeFirstOrThrow();
    this.deps.wake();
    return toRunView(row);
  }

  /** The trigger's runs, newest first, a page at a time. */
  async runs(
    userId: string,
    id: string,
    page: { limit: number; cursor?: string | undefined },
  ): Promise<{ runs: RunView[]; nextCursor: string | null }> {
    await this.row(userId, id);
    let select = this.deps.database.db.selectFrom('trigger_firings').selectAll().where('trigger_id', '=', id);
    const firedMs = sql<Date>`date_trunc('milliseconds', fired_at)`;
    if (page.cursor) {
      const [at, before] = decodeCursor(page.cursor);
      select = select.where((eb) => eb.or([eb(firedMs, '<', at), eb.and([eb(firedMs, '=', at), eb('id', '<', before)])]));
    }
    const rows = await select
      .orderBy(firedMs, 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit + 1)
      .execute();
    const shown = rows.slice(0, page.limit);
    const last = shown.at(-1);
    return { runs: shown.map(toRunView), nextCursor: rows.length > page.limit && last ? encodeCursor(last.fired_at, last.id) : null };
  }

  /**
   * A schedule's next five fire instants from now, before it is saved (the console's schedule
   * helper): read in the given zone, else the user's, exactly as the saved trigger would fire.
   */
  previewSchedule(user: PromptUser, schedule: ScheduleInput): { timezone: string; upcoming: string[] } {
    const parsed = scheduleSchema.safeParse(schedule);
    if (!parsed.success) throw new AppError('VALIDATION_FAILED', parsed.error.issues.map((issue) => issue.message).join('; '));
    const timezone = parsed.data.timezone ?? user.timezone;
    const now = new Date(this.deps.now());
    const upcoming = new Schedule({ ...parsed.data, timezone } as ScheduleSpec, now).upcoming(now, 5);
    return { timezone, upcoming: upcoming.map((at) => at.toISOString()) };
  }

  /** A new webhook secret, shown once; the old one is still accepted for the grace period. */
  async rotateSecret(userId: string, id: string): Promise<{ secret: string; previousValidUntil: string }> {
    const trigger = await this.row(userId, id);
    if (trigger.kind !== 'webhook') throw new AppError('VALIDATION_FAILED', 'Only a webhook trigger has a secret.');
    return this.deps.secrets.rotate(this.deps.database, { userId, triggerId: id });
  }

  private async check(user: PromptUser, input: TriggerInput): Promise<TriggerDefinition> {
    const parsed = triggerInputSchema.safeParse(input);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
      throw new AppError('VALIDATION_FAILED', issues.map((i) => `${i.path}: ${i.message}`).join('; '), { details: { issues } });
    }
    const definition = parsed.data;
    if (!definition.templateId && !definition.agentId)
      throw new AppError('VALIDATION_FAILED', 'A trigger starts a template or an agent: give templateId or agentId.');
    if (definition.agentId) await this.deps.agents.get(user.id, definition.agentId);
    let known: Set<string> = new Set();
    if (definition.templateId) {
      const template = await this.deps.templates.get(user.id, definition.templateId);
      definition.templateId = template.id;
      known = new Set(template.variables.map((variable) => variable.name));
    }
    // After the ownership checks: another user's template or agent answers 404 whatever else is wrong.
    for (const kind of ['schedule', 'webhook', 'integration'] as const) {
      if ((kind === definition.kind) !== (definition[kind] !== undefined))
        throw new AppError(
          'VALIDATION_FAILED',
          kind === definition.kind ? `A ${kind} trigger needs its "${kind}" settings.` : `"${kind}" settings belong to a ${kind} trigger.`,
        );
    }
    const mapping = { ...definition.webhook?.mapping, ...definition.integration?.mapping };
    const unknown = [...Object.keys(mapping), ...Object.keys(definition.variables)].filter((name) => !known.has(name));
    if (unknown.length > 0)
      throw new AppError('VALIDATION_FAILED', `Not variables of the template: ${[...new Set(unknown)].join(', ')}.`, {
        details: { issues: unknown.map((name) => ({ path: name, message: 'is not a variable of the template' })) },
      });
    if (definition.schedule) {
      definition.schedule.timezone ??= user.timezone;
      scheduleOf(definition, new Date(this.deps.now()));
    }
    // Else the first poll or delivery would fail, long after the save.
    for (const name of [definition.integration?.tool, definition.deliver && deliveryTools[definition.deliver.via]]) {
      if (!name) continue;
      const [tool] = await this.deps.tools.forSession(user.id, [name]);
      if (tool?.name !== name)
        throw new AppError(
          'INTEGRATION_DISCONNECTED',
          `${name} is not among your connected integrations' tools: connect its integration first.`,
        );
    }
    return definition;
  }

  /** Schedules: the next instant after now; polls: now; webhooks: none (deliveries fire them). */
  private firstFireAt(definition: TriggerDefinition, now: Date): Date | null {
    if (definition.kind === 'schedule') return scheduleOf(definition, now).next(now);
    return definition.kind === 'integration' ? now : null;
  }

  private withDefinition() {
    return this.deps.database.db
      .selectFrom('triggers as t')
      .innerJoin('trigger_versions as v', (join) => join.onRef('v.trigger_id', '=', 't.id').onRef('v.version', '=', 't.version'))
      .selectAll('t')
      .select('v.definition');
  }

  private async row(userId: string, id: string) {
    const row = isUuid(id)
      ? await this.withDefinition().where('t.id', '=', id).where('t.user_id', '=', userId).executeTakeFirst()
      : undefined;
    if (!row) throw new AppError('TRIGGER_NOT_FOUND');
    return row;
  }

  private toView(row: Selectable<TriggersTable> & { definition: Record<string, unknown> }): TriggerView {
    const definition = row.definition as unknown as TriggerDefinition;
    const upcoming =
      definition.kind === 'schedule' && row.status === 'active'
        ? scheduleOf(definition, row.created_at)
            .upcoming(new Date(this.deps.now()), 5)
            .map((at) => at.toISOString())
        : [];
    return {
      id: row.id,
      name: row.name,
      kind: row.kind,
      status: row.status,
      pausedReason: row.paused_reason,
      version: row.version,
      definition,
      nextFireAt: row.next_fire_at?.toISOString() ?? null,
      upcoming,
      consecutiveFailures: row.consecutive_failures,
      webhookPath: row.kind === 'webhook' ? `/v1/hooks/${row.id}` : null,
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
    };
  }
}

/** What decides which items a poll lists. */
function pollSource(definition: TriggerDefinition): string {
  const poll = definition.integration;
  return poll ? JSON.stringify([poll.tool, poll.arguments, poll.itemsPath, poll.idPath]) : '';
}

function toRunView(row: {
  id: string;
  source: string;
  trigger_version: number;
  status: string;
  outcome: string | null;
  scheduled_at: Date | null;
  fired_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  session_id: string | null;
  error: { code: string; message: string } | null;
}): RunView {
  return {
    id: row.id,
    source: row.source,
    triggerVersion: row.trigger_version,
    status: row.status,
    outcome: row.outcome,
    scheduledAt: row.scheduled_at?.toISOString() ?? null,
    firedAt: row.fired_at.toISOString(),
    startedAt: row.started_at?.toISOString() ?? null,
    finishedAt: row.finished_at?.toISOString() ?? null,
    sessionId: row.session_id,
    error: row.error,
  };
}
