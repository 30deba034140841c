import { z } from 'zod';
import { errorCodeList } from '../errors.ts';

/*
 * Every event Agentry records, as a discriminated union on `type`, each with the schema of its
 * data. Producers are checked against these schemas when they append, so a malformed event fails
 * in the transaction that makes it, not in a client.
 *
 * `message.delta` is durable but coalesced: the producer sends a delta at most every 100 ms or
 * few hundred characters, each carrying its offset in the message. A client that resumes replays
 * the deltas of a turn still in progress (the text so far) and the `message.completed` of every
 * turn that finished, which carries the whole text; retention drops the deltas of completed
 * messages first. Keeping them in the log is what makes resume exact without a second channel.
 */

const id = z.string().min(1).max(200);
const integration = { integrationId: id, provider: id };
const sessionTool = { sessionId: id, callId: id, tool: id };
const toolNames = z.array(z.string().max(200)).max(1000);
/** A code a client sees is one of the registry's: a typo fails `tsc` at the producer, and an unknown code fails the append. */
const errorCode = z.enum(errorCodeList);
const reportedError = z.object({ code: errorCode, message: z.string() });

export const eventDataSchemas = {
  'integration.connected': z.object({ ...integration }),
  'integration.disconnected': z.object({ ...integration, reason: z.string().max(500).optional() }),
  'integration.tool_used': z.object({
    ...integration,
    tool: id,
    // Secrets redacted.
    arguments: z.unknown().optional(),
    outcome: z.enum(['ok', 'error']),
    durationMs: z.number().nonnegative(),
    errorCode: errorCode.optional(),
  }),
  'integration.status_changed': z.object({
    ...integration,
    from: z.string().max(20),
    to: z.string().max(20),
    reason: z.string().max(500).optional(),
  }),
  'integration.error': z.object({ ...integration, code: errorCode, message: z.string().max(2000) }),
  // A connection's access token was renewed (`expiresAt`), or its tool list was read again (`toolCount`).
  'integration.refreshed': z.object({
    ...integration,
    expiresAt: z.string().max(40).nullable().optional(),
    toolCount: z.number().int().nonnegative().optional(),
  }),
  'tools.changed': z.object({
    integrationId: id.optional(),
    added: toolNames,
    removed: toolNames,
    changed: toolNames,
    // The added or changed tools that carry a warning (`hidden-instructions`, `description-changed`).
    flagged: z
      .array(z.object({ name: z.string().max(200), flags: z.array(z.string().max(50)).max(10) }))
      .max(1000)
      .optional(),
  }),
  'session.status_changed': z.object({
    sessionId: id,
    from: z.string().max(50).nullable(),
    to: z.string().max(50),
    reason: z.string().max(2000).optional(),
  }),
  'session.checkpoint': z.object({ sessionId: id, checkpointId: id, step: z.number().int().nonnegative() }),
  // The session's context changed: by the agent (its remember tool) or the user (PATCH); `keys` are the top-level keys set or removed.
  'session.context_updated': z.object({
    sessionId: id,
    by: z.enum(['agent', 'user']),
    keys: z.array(z.string().max(200)).max(200),
  }),
  'message.delta': z.object({ sessionId: id, messageId: id, offset: z.number().int().nonnegative(), text: z.string() }),
  'message.completed': z.object({
    sessionId: id,
    messageId: id,
    role: z.enum(['assistant', 'user', 'system', 'tool', 'summary']),
    text: z.string(),
  }),
  'turn.ended': z.object({
    sessionId: id,
    turnId: id,
    status: z.enum(['completed', 'failed', 'cancelled', 'step_limit']),
    steps: z.number().int().nonnegative(),
    error: reportedError.optional(),
    /** A trigger started the session: its run's outcome may follow from this end. */
    triggered: z.literal(true).optional(),
  }),
  'tool.started': z.object({ ...sessionTool, arguments: z.unknown().optional() }),
  'tool.completed': z.object({ ...sessionTool, durationMs: z.number().nonnegative(), result: z.unknown().optional() }),
  'tool.failed': z.object({ ...sessionTool, durationMs: z.number().nonnegative(), error: reportedError }),
  // Something a user is told (a triggered run finished, failed or waits; a trigger paused itself), on their `notifications` topic.
  'notification.created': z.object({
    notificationId: id,
    kind: z.string().max(50),
    title: z.string().max(500),
    body: z.string().max(4000),
    data: z.record(z.string().max(50), z.string().max(200)),
  }),
  // A call waits for the user's approval (on the session's topic and the user's `approvals` topic). Arguments redacted.
  'tool.approval_requested': z.object({
    ...sessionTool,
    approvalId: id,
    arguments: z.unknown().optional(),
    expiresAt: z.string().max(40).nullable(),
  }),
  // The call's one decision: approved (`edited` when its arguments were changed), denied, expired, or dropped.
  'tool.approval_decided': z.object({
    ...sessionTool,
    approvalId: id,
    outcome: z.enum(['approved', 'denied', 'expired', 'dropped']),
    edited: z.boolean(),
  }),
  'kb.document.status': z.object({
    documentId: id,
    status: z.enum(['pending', 'processing', 'completed', 'failed']),
    error: reportedError.optional(),
  }),
} as const;

export type EventType = keyof typeof eventDataSchemas;
export const eventTypes = Object.keys(eventDataSchemas) as EventType[];

/** An event as a producer makes it: a type and its data. */
export type AgentryEvent = { [K in EventType]: { type: K; data: z.infer<(typeof eventDataSchemas)[K]> } }[EventType];

/** An event as it was recorded: the producer's event plus its id, owner, topic and time. */
export type StoredEvent = AgentryEvent & {
  /** Monotonic, in commit order. */
  id: number;
  userId: string;
  topic: string;
  at: Date;
};
