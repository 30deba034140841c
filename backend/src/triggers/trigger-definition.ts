import { z } from 'zod';
import { payloadPathSchema } from './payload-path.ts';

export const triggerKinds = ['schedule', 'webhook', 'integration'] as const;
/** What a firing of a schedule missed while no instance ran does: nothing, one run, or each run within the window. */
export const missedRunPolicies = ['skip', 'run_once', 'catch_up'] as const;
/** What a firing does while the trigger's previous run is still going (Temporal's overlap policies, three of them). */
export const overlapPolicies = ['skip', 'queue_one', 'allow'] as const;

const variableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a variable name');
/** Variables from a payload: template variable → `$.path.to[0].value`. */
const mapping = z.record(variableName, payloadPathSchema).refine((m) => Object.keys(m).length <= 50, 'at most 50 mapped variables');

/** When a schedule fires: a cron expression or an interval, in a time zone. */
export const scheduleSchema = z.union([
  z.strictObject({
    cron: z.string().trim().min(9).max(120).describe('Five fields (minute hour day month weekday), or six with seconds first'),
    timezone: z.string().max(64).optional().describe("An IANA time zone; the user's when absent"),
  }),
  z.strictObject({
    everySeconds: z
      .number()
      .int()
      .min(1)
      .max(31 * 86_400),
    timezone: z.string().max(64).optional(),
  }),
]);

const integrationSchema = z.strictObject({
  tool: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,39}__[A-Za-z0-9_-]{1,64}$/, 'must be provider__tool, e.g. sandbox-mail__list_messages')
    .describe('The connector tool polled for new items'),
  arguments: z.record(z.string().max(64), z.unknown()).default({}),
  everySeconds: z.number().int().min(10).max(86_400).default(300),
  itemsPath: payloadPathSchema.default('$').describe("Where the tool's result lists its items"),
  idPath: payloadPathSchema.default('$.id').describe("An item's id, within the item"),
  mapping: mapping.default({}),
});

/** The tool each way of delivering a run's end sends through. */
export const deliveryTools = { slack: 'slack__post_message', email: 'gmail__send_email' } as const;

/** The run ends a delivery is sent for. */
export const deliveryEvents = ['completed', 'failed'] as const;
const on = z.array(z.enum(deliveryEvents)).min(1).max(2).default(['completed', 'failed']).describe('Which run ends are delivered');

/**
 * Where a run's end is also told, besides the console: a message in a chat channel or an email,
 * sent by the system through the owner's connection (agreed to by saving the trigger), audited.
 */
export const deliverySchema = z.discriminatedUnion('via', [
  z.strictObject({ via: z.literal('slack'), channel: z.string().trim().min(1).max(200).describe('A channel id or #name'), on }),
  z.strictObject({ via: z.literal('email'), to: z.email().max(320), on }),
]);

/**
 * A trigger as its owner writes it: what it starts (a template or an agent, with variables), when
 * (one kind's settings) and its policies. Saving it again makes a new version; runs keep theirs.
 */
export const triggerInputSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  kind: z.enum(triggerKinds),
  templateId: z.string().min(1).max(100).optional().describe('A template id or slug'),
  agentId: z.uuid().optional(),
  variables: z.record(variableName, z.unknown()).default({}),
  schedule: scheduleSchema.optional(),
  webhook: z.strictObject({ mapping: mapping.default({}) }).optional(),
  integration: integrationSchema.optional(),
  deliver: deliverySchema.optional().describe("Also tell the run's end through a connected integration (Slack or email)"),
  missedRuns: z.enum(missedRunPolicies).default('run_once'),
  catchUpWindowSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 86_400)
    .default(86_400),
  overlap: z.enum(overlapPolicies).default('skip'),
  pauseAfterFailures: z.number().int().min(1).max(100).default(3).describe('Failed runs in a row after which the trigger pauses itself'),
});

export type TriggerInput = z.input<typeof triggerInputSchema>;
export type TriggerDefinition = z.output<typeof triggerInputSchema>;
export type TriggerKind = (typeof triggerKinds)[number];
