import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AgentRunner } from '../../agent/index.ts';
import { AppError } from '../../errors.ts';
import { redactArguments } from '../../redaction/index.ts';
import type { ApprovalRow, SessionService } from '../../sessions/index.ts';
import { providerOfTool } from '../../tools/index.ts';
import { principalOf } from '../auth.ts';
import { idParams } from './schemas.ts';

const approvalSchema = z.object({
  id: z.uuid(),
  sessionId: z.uuid(),
  callId: z.string(),
  tool: z.string(),
  provider: z.string().nullable().describe("The integration the tool belongs to; null for Agentry's own and custom tools"),
  arguments: z.unknown().describe('What the model asked for, redacted: send a redacted value back unchanged and the original is kept'),
  inputSchema: z.unknown().describe("The tool's input schema, for an edit form"),
  status: z.enum(['pending', 'approved', 'denied', 'expired', 'dropped']),
  edited: z.boolean(),
  note: z.string().nullable(),
  expiresAt: z.string().nullable(),
  createdAt: z.string(),
  decidedAt: z.string().nullable(),
});

function toApprovalView(row: ApprovalRow): z.infer<typeof approvalSchema> {
  return {
    id: row.id,
    sessionId: row.session_id,
    callId: row.call_id,
    tool: row.tool,
    provider: providerOfTool(row.tool) ?? null,
    arguments: redactArguments(row.input),
    inputSchema: row.input_schema,
    status: row.status,
    edited: row.edited,
    note: row.note,
    expiresAt: row.expires_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    decidedAt: row.decided_at?.toISOString() ?? null,
  };
}

/** Approvals: the calls waiting for the user, the decision on each, and the user's "always allow" rules. */
export const approvalRoutes: FastifyPluginAsyncZod<{ sessions: SessionService; runner: AgentRunner }> = async (
  app,
  { sessions, runner },
) => {
  // Read at request time: the OpenAPI document registers these routes without services.
  const approvals = () => sessions.turns.approvals;
  const approvalRules = () => sessions.turns.approvalRules;

  app.get(
    '/v1/approvals',
    {
      schema: {
        tags: ['approvals'],
        summary: 'Your tool calls awaiting approval, oldest first, across sessions',
        querystring: z.strictObject({
          sessionId: z.uuid().optional(),
          limit: z.coerce.number().int().min(1).max(200).default(100),
        }),
        response: { 200: z.object({ approvals: z.array(approvalSchema) }) },
      },
    },
    async (request) => ({
      approvals: (await approvals().pending(principalOf(request).user.id, request.query)).map(toApprovalView),
    }),
  );

  app.post(
    '/v1/sessions/:id/approvals/:callId',
    {
      schema: {
        tags: ['approvals'],
        summary:
          'Decide on a tool call awaiting approval: approve (optionally with edited arguments, or always for this agent) or deny (the model reads your note). One decision per call: a second answers 409 APPROVAL_DECIDED',
        params: z.object({ id: idParams.shape.id, callId: z.string().min(1).max(200) }),
        body: z.strictObject({
          action: z.enum(['approve', 'deny']),
          arguments: z
            .record(z.string(), z.unknown())
            .optional()
            .describe('Approve with these arguments: only the fields you changed are changed'),
          note: z.string().trim().min(1).max(2000).optional().describe('Deny: what the model reads as the call’s result'),
          always: z.boolean().optional().describe('Approve, and always allow this tool for this agent from now on'),
        }),
        response: { 200: z.object({ approval: approvalSchema }) },
      },
    },
    async (request) => {
      const userId = principalOf(request).user.id;
      if (!(await sessions.owns(userId, request.params.id))) throw new AppError('APPROVAL_NOT_FOUND');
      const { action, arguments: args, note, always } = request.body;
      if (action === 'deny' && (args !== undefined || always)) throw new AppError('VALIDATION_FAILED', 'A denial takes only a note.');
      const approval = await runner.decide(
        userId,
        request.params.id,
        request.params.callId,
        { action, arguments: args, note, always },
        request.ip,
      );
      return { approval: toApprovalView(approval) };
    },
  );

  app.get(
    '/v1/approval-rules',
    {
      schema: {
        tags: ['approvals'],
        summary: 'Your "always allow" rules, newest first',
        response: {
          200: z.object({
            rules: z.array(
              z.object({
                id: z.uuid(),
                tool: z.string(),
                decision: z.enum(['allow', 'ask', 'deny']),
                agent: z.object({ id: z.uuid(), name: z.string() }).nullable(),
                createdAt: z.string(),
              }),
            ),
          }),
        },
      },
    },
    async (request) => ({ rules: await approvalRules().list(principalOf(request).user.id) }),
  );

  app.delete(
    '/v1/approval-rules/:id',
    { schema: { tags: ['approvals'], summary: 'Remove one of your "always allow" rules', params: idParams, response: { 204: z.null() } } },
    async (request, reply) => {
      await approvalRules().remove(principalOf(request).user.id, request.params.id, request.ip);
      return reply.status(204).send(null);
    },
  );
};
