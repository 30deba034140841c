import { recordAudit } from '../accounts/index.ts';
import type { PostgresDatabase } from '../database/index.ts';
import { isAppError } from '../errors.ts';
import { isToolError } from '../tools/index.ts';
import type { PollTools } from './integration-poller.ts';
import { deliveryTools, type TriggerDefinition } from './trigger-definition.ts';

export interface RunDeliveryDeps {
  database: PostgresDatabase;
  tools: PollTools;
  /** Where the console is, for the link to the run's session; a path alone without it. */
  publicUrl?: string | undefined;
  onError: (error: unknown, context: string) => void;
}

/** Characters of the run's final answer a delivery carries; the link leads to the rest. */
const maxAnswerChars = 3_000;
/** A send is given up after this long (it is not tried again). */
const sendTimeoutMs = 30_000;

/**
 * Tells a run's end through the integration its trigger names (a Slack channel, an email): a
 * system send the owner agreed to when saving the trigger, made with the owner's connection as a
 * direct tool call, so it is not a model's call and no approval holds it. Every send, and every
 * failure, is in the audit log. It is called once per run end, by the instance that recorded the
 * end, after that commits: a send is never repeated, and a crash just then loses it (the
 * console's notification stays).
 */
export class RunDelivery {
  constructor(private readonly deps: RunDeliveryDeps) {}

  /** Sends the firing's end if its trigger version asks for it; never throws. */
  async deliver(firingId: string, answer?: string | undefined): Promise<void> {
    const run = await this.deps.database.db
      .selectFrom('trigger_firings as f')
      .innerJoin('trigger_versions as v', (join) =>
        join.onRef('v.trigger_id', '=', 'f.trigger_id').onRef('v.version', '=', 'f.trigger_version'),
      )
      .innerJoin('triggers as t', 't.id', 'f.trigger_id')
      .select(['f.id', 'f.user_id', 'f.trigger_id', 'f.session_id', 'f.outcome', 'f.error', 't.name', 'v.definition'])
      .where('f.id', '=', firingId)
      .executeTakeFirst()
      .catch((error: unknown) => this.deps.onError(error, 'could not read a triggered run to deliver its end'));
    const deliver = (run?.definition as unknown as TriggerDefinition | undefined)?.deliver;
    if (!run || !deliver) return;
    const outcome =
      run.outcome === 'completed' ? 'completed' : run.outcome === 'failed' || run.outcome === 'step_limit' ? 'failed' : undefined;
    if (!outcome || !deliver.on.includes(outcome)) return;

    const title = outcome === 'completed' ? `"${run.name}" finished` : `"${run.name}" failed`;
    const detail = outcome === 'completed' ? (answer ?? '') : (run.error?.message ?? 'The run stopped at the step limit.');
    const cut = detail.length > maxAnswerChars ? `${detail.slice(0, maxAnswerChars)}…` : detail;
    const link = run.session_id ? `${this.deps.publicUrl ?? ''}/chat/${run.session_id}` : undefined;
    const text = [cut, link ? `Open the session: ${link}` : ''].filter(Boolean).join('\n\n');
    const toolName = deliveryTools[deliver.via];
    const input =
      deliver.via === 'slack'
        ? { channel: deliver.channel, text: `*${title}*\n${text}` }
        : { to: [deliver.to], subject: title, body: text };

    const audit = { actorUserId: run.user_id, targetType: 'trigger', targetId: run.trigger_id };
    const details = { firingId, via: deliver.via, tool: toolName, outcome, ...(run.session_id ? { sessionId: run.session_id } : {}) };
    try {
      const [tool] = await this.deps.tools.forSession(run.user_id, [toolName]);
      if (!tool || tool.name !== toolName) throw new Error(`${toolName} is not among the connected integrations' tools.`);
      await tool.execute(tool.parse(input), { idempotencyKey: `trigger-delivery:${firingId}`, signal: AbortSignal.timeout(sendTimeoutMs) });
      await recordAudit(this.deps.database.db, { action: 'trigger.delivered', ...audit, details });
    } catch (error) {
      const message = isAppError(error) || isToolError(error) || error instanceof Error ? error.message : 'The send failed.';
      await recordAudit(this.deps.database.db, {
        action: 'trigger.delivery_failed',
        ...audit,
        details: { ...details, error: message.slice(0, 500) },
      }).catch((cause: unknown) => this.deps.onError(cause, 'could not audit a failed delivery'));
    }
  }
}
