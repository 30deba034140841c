import { sql } from 'kysely';
import { toJsonText, type PostgresDatabase } from '../database/index.ts';
import { AppError, isAppError, type ReportedError } from '../errors.ts';
import { isToolError, ToolError, type ToolDefinition } from '../tools/index.ts';
import type { NotificationService } from './notification-service.ts';
import { mapPayload, readPayloadPath } from './payload-path.ts';
import type { TriggerDefinition } from './trigger-definition.ts';

/** The connector tools a user may call now (the integrations area's `forSession`). */
export interface PollTools {
  forSession(userId: string, patterns: readonly string[]): Promise<ToolDefinition[]>;
}

/**
 * What a poll remembers in `triggers.watermark`: the ids it has seen (newest first, bounded), when
 * it last looked, and its failures in a row with the last one.
 */
export interface PollWatermark {
  seen: string[];
  /** When a poll first read the tool's answer: what was listed then fires nothing. */
  baselineAt?: string | undefined;
  polledAt: string;
  failures: number;
  error?: ReportedError | undefined;
}

export interface IntegrationPollerDeps {
  database: PostgresDatabase;
  tools: PollTools;
  notifications: NotificationService;
  now: () => number;
  onError: (error: unknown, context: string) => void;
}

/** New items one poll turns into firings, at most; the rest wait for the next poll. */
export const maxItemsPerPoll = 25;
/** Ids a watermark keeps: more than one bounded answer lists. */
const maxSeen = 500;
/** An item id longer than this is cut (the firing key stays small). */
const maxIdChars = 200;
/** Polls due at once taken by one look. */
const batch = 20;
/** A poll's tool call is given up after this long. */
const callTimeoutMs = 30_000;

/**
 * Integration-event triggers: each due trigger's connector tool is called as its owner, on the
 * owner's connection, and every item in the answer not seen before becomes a firing keyed
 * `item:<id>` (unique per trigger, so an item fires once whoever polls, and after restarts). The
 * ids seen are the trigger's watermark, written in the transaction that writes the firings. The
 * first poll only records what is already there: a trigger runs for items that arrive after it
 * was saved. A poll is bounded: the tool's answer is capped in size by the tool caller (a cut
 * answer fails the poll rather than being half read), and at most `maxItemsPerPoll` items fire per
 * poll. A poll that fails is counted; at the trigger's failure limit it pauses and tells the user.
 */
export class IntegrationPoller {
  constructor(private readonly deps: IntegrationPollerDeps) {}

  /** Polls every integration trigger that is due; returns how many firings it wrote. */
  async pollDue(): Promise<number> {
    let fired = 0;
    for (;;) {
      const due = await this.claimDue();
      for (const trigger of due) fired += await this.poll(trigger);
      if (due.length < batch) return fired;
    }
  }

  /** Takes due triggers and moves each one's next poll a period on, so no other instance polls them meanwhile. */
  private claimDue(): Promise<Due[]> {
    const now = new Date(this.deps.now());
    return this.deps.database.transaction(async (tx) => {
      const rows = await tx
        .selectFrom('triggers as t')
        .innerJoin('trigger_versions as v', (join) => join.onRef('v.trigger_id', '=', 't.id').onRef('v.version', '=', 't.version'))
        .select(['t.id', 't.user_id', 't.name', 't.version', 'v.definition'])
        .where('t.status', '=', 'active')
        .where('t.kind', '=', 'integration')
        .where('t.next_fire_at', '<=', now)
        .orderBy('t.next_fire_at')
        .limit(batch)
        .forUpdate('t')
        .skipLocked()
        .execute();
      const due = rows.map((row) => ({ ...row, definition: row.definition as unknown as TriggerDefinition }));
      for (const trigger of due) {
        const every = trigger.definition.integration?.everySeconds ?? 300;
        await tx
          .updateTable('triggers')
          .set({ next_fire_at: new Date(now.getTime() + every * 1000) })
          .where('id', '=', trigger.id)
          .execute();
      }
      return due;
    });
  }

  private async poll(trigger: Due): Promise<number> {
    let items: Item[];
    try {
      items = await this.fetch(trigger);
    } catch (error) {
      if (!isAppError(error) && !isToolError(error)) this.deps.onError(error, `could not poll the integration trigger ${trigger.id}`);
      await this.recordFailure(trigger, error).catch((cause: unknown) => this.deps.onError(cause, 'could not record a failed poll'));
      return 0;
    }
    return this.record(trigger, items);
  }

  /** Calls the trigger's tool as its owner and reads the items out of the answer. */
  private async fetch(trigger: Due): Promise<Item[]> {
    const settings = trigger.definition.integration!;
    const [tool] = await this.deps.tools.forSession(trigger.user_id, [settings.tool]);
    if (!tool || tool.name !== settings.tool)
      throw new AppError('INTEGRATION_DISCONNECTED', `${settings.tool} is not among your connected integrations' tools: connect it again.`);
    const result = (await tool.execute(tool.parse(settings.arguments), { signal: AbortSignal.timeout(callTimeoutMs) })) as {
      text?: string;
      structured?: unknown;
      truncated?: true;
    };
    if (result.truncated)
      throw new ToolError('TOOL_FAILED', `${settings.tool} answered more than a poll reads: ask for fewer items in its arguments.`);
    let answer: unknown = result.structured;
    if (answer === undefined) {
      try {
        answer = JSON.parse(result.text ?? '');
      } catch {
        throw new ToolError('TOOL_FAILED', `${settings.tool} did not answer JSON, so its items cannot be read.`);
      }
    }
    const listed = readPayloadPath(answer, settings.itemsPath);
    if (!Array.isArray(listed)) throw new ToolError('TOOL_FAILED', `${settings.tool}'s answer has no list at ${settings.itemsPath}.`);
    const items: Item[] = [];
    for (const item of listed) {
      const id = readPayloadPath(item, settings.idPath);
      if (typeof id !== 'string' && typeof id !== 'number') continue;
      items.push({ id: String(id).slice(0, maxIdChars), input: mapPayload(item, settings.mapping) });
    }
    return items;
  }

  /** Writes the firings of the items not seen before and the new watermark, in one transaction. */
  private async record(trigger: Due, items: Item[]): Promise<number> {
    return this.deps.database.transaction(async (tx) => {
      const row = await tx
        .selectFrom('triggers')
        .select(['watermark', 'status'])
        .where('id', '=', trigger.id)
        .forUpdate()
        .executeTakeFirst();
      if (!row || row.status !== 'active') return 0;
      const previous = row.watermark as unknown as PollWatermark | null;
      const seen = new Set(previous?.seen ?? []);
      // The first poll that reads an answer sets the baseline: what is there already fires nothing.
      const baselineAt = previous?.baselineAt;
      const fresh = baselineAt ? items.filter((item) => !seen.has(item.id)).slice(0, maxItemsPerPoll) : [];
      const freshIds = new Set(fresh.map((item) => item.id));
      const handled = items.filter((item) => !baselineAt || seen.has(item.id) || freshIds.has(item.id)).map((item) => item.id);
      const written =
        fresh.length === 0
          ? []
          : await tx
              .insertInto('trigger_firings')
              .values(
                // Oldest first: answers list newest first, and runs start in the order written.
                fresh.toReversed().map((item) => ({
                  trigger_id: trigger.id,
                  user_id: trigger.user_id,
                  trigger_version: trigger.version,
                  fire_key: `item:${item.id}`,
                  source: 'integration' as const,
                  input: toJsonText(item.input),
                })),
              )
              .onConflict((oc) => oc.columns(['trigger_id', 'fire_key']).doNothing())
              .returning('id')
              .execute();
      const watermark: PollWatermark = {
        seen: [...new Set([...handled, ...(previous?.seen ?? [])])].slice(0, maxSeen),
        baselineAt: baselineAt ?? new Date(this.deps.now()).toISOString(),
        polledAt: new Date(this.deps.now()).toISOString(),
        failures: 0,
      };
      await tx
        .updateTable('triggers')
        .set({ watermark: toJsonText(watermark), updated_at: sql`now()` })
        .where('id', '=', trigger.id)
        .execute();
      return written.length;
    });
  }

  /** Counts a failed poll in the watermark; at the trigger's limit, pauses it and tells its owner why. */
  private async recordFailure(trigger: Due, error: unknown): Promise<void> {
    const reported: ReportedError =
      isAppError(error) || isToolError(error)
        ? { code: error.code, message: error.message }
        : { code: 'INTERNAL', message: 'The poll failed on the server.' };
    await this.deps.database.transaction(async (tx) => {
      const row = await tx
        .selectFrom('triggers')
        .select(['watermark', 'status'])
        .where('id', '=', trigger.id)
        .forUpdate()
        .executeTakeFirst();
      if (!row || row.status !== 'active') return;
      const previous = row.watermark as unknown as PollWatermark | null;
      const failures = (previous?.failures ?? 0) + 1;
      const watermark = {
        ...previous,
        seen: previous?.seen ?? [],
        polledAt: new Date(this.deps.now()).toISOString(),
        failures,
        error: reported,
      };
      const pause = failures >= trigger.definition.pauseAfterFailures;
      const reason = `Paused after ${failures} failed polls in a row: ${reported.message}`;
      await tx
        .updateTable('triggers')
        .set({ watermark: toJsonText(watermark), ...(pause ? { status: 'paused', paused_reason: reason } : {}), updated_at: sql`now()` })
        .where('id', '=', trigger.id)
        .execute();
      if (pause)
        await this.deps.notifications.notify(
          trigger.user_id,
          {
            kind: 'trigger_paused',
            title: `"${trigger.name}" paused itself`,
            body: `${reason} Resume it once the cause is fixed.`,
            data: { triggerId: trigger.id },
          },
          tx,
        );
    });
  }
}

interface Due {
  id: string;
  user_id: string;
  name: string;
  version: number;
  definition: TriggerDefinition;
}

interface Item {
  id: string;
  input: Record<string, unknown>;
}
