import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { agentSlugMaxLength, agentSlugPattern, sessionStatuses, type AgentService, type SessionService } from '../../sessions/index.ts';
import { approvalPatternMaxLength, isApprovalPattern } from '../../tools/index.ts';
import { principalOf } from '../auth.ts';
import { idParams } from './schemas.ts';

const modelId = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}:[A-Za-z0-9._/:-]{1,100}$/, 'must be provider:model, e.g. local:offline or openai:gpt-4o-mini');
const toolName = z
  .string()
  .regex(
    /^[A-Za-z0-9_-]{1,64}$|^[a-z][a-z0-9-]{0,39}__([A-Za-z0-9_-]{1,64}|\*)$|^\*__\*$/,
    'must be a tool name, provider__* (every tool of a provider) or *__* (every integration tool)',
  );
/** At most this many rules per agent: a policy, not a list of every tool. */
const maxAgentApprovalRules = 100;
const approvalDecision = z.enum(['allow', 'ask', 'deny']);
const agentApprovalRules = z
  .array(
    z.strictObject({
      tool: z
        .string()
        .max(approvalPatternMaxLength)
        .refine(isApprovalPattern, 'must be a tool name or a pattern with *, e.g. gmail__send_*, slack__* or *__delete_*'),
      decision: approvalDecision,
    }),
  )
  .max(maxAgentApprovalRules)
  .refine((rules) => new Set(rules.map((r) => r.tool)).size === rules.length, 'each tool or pattern may have one rule')
  .describe(
    "The agent's approval rules: allow, ask or deny for the tools a name or pattern matches (the most specific wins). " +
      "They override the tools' defaults, never an administrator's deny or locked ask. On change, absent: kept",
  );
const agentBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  slug: z
    .string()
    .max(agentSlugMaxLength)
    .regex(agentSlugPattern, 'must be lower-case letters, digits and single hyphens inside, e.g. "research-helper"')
    .optional()
    .describe('Unique among your agents; names the agent as a model. On create, absent: made from the name. On change, absent: kept'),
  instructions: z.string().max(16_000).optional(),
  model: modelId.nullable().optional().describe('provider:model; null or absent follows the configured default'),
  templateId: z.uuid().nullable().optional(),
  tools: z
    .array(toolName)
    .max(100)
    .nullable()
    .optional()
    .describe('An allow-list of tool names; null or absent allows every tool the session is offered'),
  approvalRules: agentApprovalRules.optional(),
});
const agentSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  slug: z.string(),
  instructions: z.string(),
  model: z.string().nullable(),
  templateId: z.string().nullable(),
  tools: z.array(z.string()).nullable(),
  approvalRules: z.array(z.object({ tool: z.string(), decision: approvalDecision })),
  isDefault: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const countersSchema = z.object({
  messages: z.number(),
  toolCalls: z.number(),
  errors: z.number(),
  inputTokens: z.number(),
  outputTokens: z.number(),
  costUsd: z.number(),
  costEstimated: z.boolean().describe('Some of costUsd was counted at DEFAULT_MODEL_PRICE: a model with no price.'),
});
const checkpointSchema = z.object({
  id: z.uuid(),
  seq: z.number(),
  reason: z.string(),
  name: z.string().nullable(),
  step: z.number(),
  createdAt: z.string(),
});
export const sessionSchema = z.object({
  id: z.uuid(),
  status: z.enum(sessionStatuses),
  agentId: z.string().nullable(),
  templateId: z.string().nullable(),
  templateVersion: z.number().nullable(),
  model: z.string(),
  tools: z.array(z.string()),
  userPrompt: z.string().nullable(),
  context: z.unknown(),
  variables: z.unknown(),
  conversationId: z.string().nullable(),
  counters: countersSchema,
  lastError: z.unknown(),
  version: z.number(),
  startedAt: z.string(),
  lastActiveAt: z.string(),
  completedAt: z.string().nullable(),
});
const conversationSchema = z.object({ id: z.uuid(), sessionId: z.uuid().nullable(), title: z.string(), createdAt: z.string() });
const conversationBody = z.strictObject({ title: z.string().trim().max(200).optional() });
const checkpointName = z.string().trim().min(1).max(200);

/** Agents and sessions: the control plane of agent runs. */
export const sessionRoutes: FastifyPluginAsyncZod<{ agents: AgentService; sessions: SessionService }> = async (
  app,
  { agents, sessions },
) => {
  const userOf = (request: Parameters<typeof principalOf>[0]) => principalOf(request).user;

  app.get(
    '/v1/agents',
    {
      schema: {
        tags: ['agents'],
        summary: 'Your agents (the default one included)',
        response: { 200: z.object({ agents: z.array(agentSchema) }) },
      },
    },
    async (request) => ({
      agents: await agents.list(userOf(request).id),
    }),
  );
  app.post(
    '/v1/agents',
    { schema: { tags: ['agents'], summary: 'Create an agent', body: agentBody, response: { 201: z.object({ agent: agentSchema }) } } },
    async (request, reply) => reply.code(201).send({ agent: await agents.create(userOf(request).id, request.body) }),
  );
  app.get(
    '/v1/agents/:id',
    { schema: { tags: ['agents'], summary: 'One agent', params: idParams, response: { 200: z.object({ agent: agentSchema }) } } },
    async (request) => ({
      agent: await agents.get(userOf(request).id, request.params.id),
    }),
  );
  app.put(
    '/v1/agents/:id',
    {
      schema: {
        tags: ['agents'],
        summary: 'Change an agent (running sessions keep what they started with)',
        params: idParams,
        body: agentBody,
        response: { 200: z.object({ agent: agentSchema }) },
      },
    },
    async (request) => ({ agent: await agents.update(userOf(request).id, request.params.id, request.body) }),
  );
  app.delete(
    '/v1/agents/:id',
    { schema: { tags: ['agents'], summary: 'Delete an agent', params: idParams, response: { 204: z.null() } } },
    async (request, reply) => {
      await agents.delete(userOf(request).id, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Start a session from an agent and/or a template',
        body: z.strictObject({
          agentId: z.uuid().optional(),
          templateId: z.string().min(1).max(100).optional().describe('A template id or slug'),
          templateVersion: z.number().int().min(1).max(1_000_000).optional(),
          variables: z.record(z.string().max(64), z.unknown()).optional(),
          context: z
            .record(z.string().max(200), z.unknown())
            .optional()
            .describe('Kept with the session after secrets are removed and sizes capped'),
          conversationId: z.uuid().optional(),
        }),
        response: {
          201: z.object({
            session: sessionSchema,
            dropped: z.array(z.object({ path: z.string(), reason: z.string() })).describe('Context that was not stored, and why'),
          }),
        },
      },
    },
    async (request, reply) => reply.code(201).send(await sessions.create(userOf(request), request.body)),
  );
  app.get(
    '/v1/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Your sessions, most recently active first',
        querystring: z.strictObject({
          status: z.enum(sessionStatuses).optional(),
          agentId: z.uuid().optional(),
          templateId: z.uuid().optional(),
          limit: z.coerce.number().int().min(1).max(100).default(20),
          cursor: z.string().max(200).optional(),
        }),
        response: { 200: z.object({ sessions: z.array(sessionSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => sessions.list(userOf(request).id, request.query),
  );
  app.get(
    '/v1/sessions/:id',
    {
      schema: {
        tags: ['sessions'],
        summary: 'A session: state, counters, last activity, checkpoints, the tools it used',
        params: idParams,
        response: {
          200: z.object({
            session: sessionSchema.extend({
              checkpoints: z.object({ count: z.number(), latest: checkpointSchema.nullable() }),
              toolsUsed: z.array(z.object({ tool: z.string(), calls: z.number(), errors: z.number() })),
              activeTurn: z
                .object({ id: z.uuid(), status: z.enum(['running', 'suspended', 'awaiting_approval']) })
                .nullable()
                .describe(
                  'The unfinished turn: running, suspended until POST /v1/sessions/:id/resolve, or awaiting_approval until its calls are decided (POST /v1/sessions/:id/approvals/:callId)',
                ),
            }),
          }),
        },
      },
    },
    async (request) => ({ session: await sessions.get(userOf(request).id, request.params.id) }),
  );
  app.post(
    '/v1/sessions/:id/status',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Pause, resume, complete or fail a session',
        params: idParams,
        body: z.strictObject({
          status: z.enum(sessionStatuses),
          checkpoint: z.strictObject({ name: checkpointName.optional() }).optional(),
        }),
        response: { 200: z.object({ session: sessionSchema }) },
      },
    },
    async (request) => ({
      session: await sessions.changeStatus(userOf(request).id, request.params.id, request.body.status, request.body.checkpoint),
    }),
  );
  app.delete(
    '/v1/sessions/:id',
    { schema: { tags: ['sessions'], summary: 'Delete a session with its conversations', params: idParams, response: { 204: z.null() } } },
    async (request, reply) => {
      await sessions.delete(userOf(request).id, request.params.id);
      return reply.code(204).send(null);
    },
  );
  app.get(
    '/v1/sessions/:id/checkpoints',
    {
      schema: {
        tags: ['sessions'],
        summary: "A session's checkpoints, newest first",
        params: idParams,
        response: { 200: z.object({ checkpoints: z.array(checkpointSchema) }) },
      },
    },
    async (request) => ({ checkpoints: await sessions.checkpoints(userOf(request).id, request.params.id) }),
  );
  app.post(
    '/v1/sessions/:id/checkpoints',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Take a checkpoint now; a named one is kept whatever the retention',
        params: idParams,
        body: z.strictObject({ name: checkpointName.optional() }).nullish(),
        response: { 201: z.object({ checkpoint: checkpointSchema }) },
      },
    },
    async (request, reply) =>
      reply.code(201).send({ checkpoint: await sessions.takeCheckpoint(userOf(request).id, request.params.id, request.body?.name) }),
  );
  app.patch(
    '/v1/sessions/:id/context',
    {
      schema: {
        tags: ['sessions'],
        summary: "Change the session's context: the facts the agent reads, as data, in every step",
        description:
          'Merged at the top level: a key set to null is removed. Sanitised and capped as at creation; makes a checkpoint and a session.context_updated event. A running turn reads it from its next turn.',
        params: idParams,
        body: z.record(z.string().min(1).max(200), z.unknown()),
        response: {
          200: z.object({
            context: z.record(z.string(), z.unknown()),
            dropped: z.array(z.object({ path: z.string(), reason: z.string() })).describe('Context that was not stored, and why'),
          }),
        },
      },
    },
    async (request) =>
      sessions.context.merge({ userId: userOf(request).id, sessionId: request.params.id, patch: request.body, by: 'user' }),
  );
  app.get(
    '/v1/sessions/:id/conversations',
    {
      schema: {
        tags: ['sessions'],
        summary: "A session's conversations",
        params: idParams,
        response: { 200: z.object({ conversations: z.array(conversationSchema) }) },
      },
    },
    async (request) => ({ conversations: await sessions.conversations(userOf(request).id, request.params.id) }),
  );
  app.post(
    '/v1/sessions/:id/conversations',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Add a conversation to a session',
        params: idParams,
        body: conversationBody,
        response: { 201: z.object({ conversation: conversationSchema }) },
      },
    },
    async (request, reply) =>
      reply.code(201).send({ conversation: await sessions.addConversation(userOf(request).id, request.params.id, request.body.title) }),
  );
  app.post(
    '/v1/conversations',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Start a conversation of its own: its first message starts a session with your default agent',
        body: conversationBody.nullish(),
        response: { 201: z.object({ conversation: conversationSchema }) },
      },
    },
    async (request, reply) =>
      reply.code(201).send({ conversation: await sessions.addConversation(userOf(request).id, null, request.body?.title) }),
  );
};
