import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { NotificationService, TriggerService, WebhookReceiver } from '../../triggers/index.ts';
import { scheduleSchema, triggerInputSchema } from '../../triggers/index.ts';
import { principalOf } from '../auth.ts';
import type { AuthFailureLimiter } from '../credential-check.ts';
import { AppError } from '../../errors.ts';
import { parseUntrustedJson } from '../untrusted-input.ts';
import { idParams } from './schemas.ts';

const triggerSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  kind: z.enum(['schedule', 'webhook', 'integration']),
  status: z.enum(['active', 'paused']),
  pausedReason: z.string().nullable(),
  version: z.number(),
  definition: triggerInputSchema,
  nextFireAt: z.string().nullable(),
  upcoming: z.array(z.string()).describe("A schedule's next five fire instants (ISO), for its time zone's calendar"),
  consecutiveFailures: z.number(),
  webhookPath: z.string().nullable().describe('Where a webhook trigger takes signed deliveries'),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const runSchema = z.object({
  id: z.uuid(),
  source: z.string().describe('schedule, webhook, integration or manual'),
  triggerVersion: z.number(),
  status: z.string().describe('pending, queued, starting, started, skipped or failed'),
  outcome: z.string().nullable().describe('completed, failed, cancelled, step_limit or skipped; null while it runs'),
  scheduledAt: z.string().nullable(),
  firedAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  sessionId: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
const notificationSchema = z.object({
  id: z.uuid(),
  kind: z.string(),
  title: z.string(),
  body: z.string(),
  data: z.record(z.string(), z.string()),
  read: z.boolean(),
  createdAt: z.string(),
});
const tags = ['triggers'];

/** `/v1/triggers`: a user's schedules, webhooks and integration-event triggers, and their runs. */
export const triggerRoutes: FastifyPluginAsyncZod<{ triggers: TriggerService }> = async (app, { triggers }) => {
  const userOf = (request: Parameters<typeof principalOf>[0]) => principalOf(request).user;
  const one = z.object({ trigger: triggerSchema });
  app.get(
    '/v1/triggers',
    { schema: { tags, summary: 'Your triggers', response: { 200: z.object({ triggers: z.array(triggerSchema) }) } } },
    async (request) => ({
      triggers: await triggers.list(userOf(request).id),
    }),
  );
  app.post(
    '/v1/triggers',
    {
      schema: {
        tags,
        summary: 'Create a trigger; a webhook trigger answers with its secret, this once',
        body: triggerInputSchema,
        response: { 201: one.extend({ secret: z.string().optional() }) },
      },
    },
    async (request, reply) => reply.code(201).send(await triggers.create(userOf(request), request.body)),
  );
  app.post(
    '/v1/triggers/schedule-preview',
    {
      schema: {
        tags,
        summary: "A schedule's next five fire instants, before it is saved (in its time zone, else yours)",
        body: z.strictObject({ schedule: scheduleSchema }),
        response: { 200: z.object({ timezone: z.string(), upcoming: z.array(z.string()) }) },
      },
    },
    async (request) => triggers.previewSchedule(userOf(request), request.body.schedule),
  );
  app.get('/v1/triggers/:id', { schema: { tags, summary: 'One trigger', params: idParams, response: { 200: one } } }, async (request) => ({
    trigger: await triggers.get(userOf(request).id, request.params.id),
  }));
  app.put(
    '/v1/triggers/:id',
    {
      schema: {
        tags,
        summary: 'Save a new version (runs keep the version they fired with)',
        params: idParams,
        body: triggerInputSchema,
        response: { 200: one },
      },
    },
    async (request) => ({ trigger: await triggers.update(userOf(request), request.params.id, request.body) }),
  );
  app.delete(
    '/v1/triggers/:id',
    { schema: { tags, summary: 'Delete a trigger and its run history', params: idParams } },
    async (request, reply) => {
      await triggers.delete(userOf(request).id, request.params.id);
      return reply.code(204).send();
    },
  );
  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/v1/triggers/:id/${action}`,
      { schema: { tags, summary: `${action === 'pause' ? 'Pause' : 'Resume'} a trigger`, params: idParams, response: { 200: one } } },
      async (request) => ({
        trigger: await triggers[action](userOf(request).id, request.params.id),
      }),
    );
  }
  app.post(
    '/v1/triggers/:id/fire',
    { schema: { tags, summary: 'Fire now (a paused trigger too)', params: idParams, response: { 202: z.object({ run: runSchema }) } } },
    async (request, reply) => reply.code(202).send({ run: await triggers.fireNow(userOf(request).id, request.params.id) }),
  );
  app.post(
    '/v1/triggers/:id/secret',
    {
      schema: {
        tags,
        summary: "Rotate a webhook's secret: the new one is shown this once; the old one works for the grace period",
        params: idParams,
        response: { 200: z.object({ secret: z.string(), previousValidUntil: z.string() }) },
      },
    },
    async (request) => triggers.rotateSecret(userOf(request).id, request.params.id),
  );
  app.get(
    '/v1/triggers/:id/runs',
    {
      schema: {
        tags,
        summary: "A trigger's runs, newest first",
        params: idParams,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().max(200).optional() }),
        response: { 200: z.object({ runs: z.array(runSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => triggers.runs(userOf(request).id, request.params.id, request.query),
  );
};

/** `/v1/notifications`: what the user was told; live on the `notifications` topic. */
export const notificationRoutes: FastifyPluginAsyncZod<{ notifications: NotificationService }> = async (app, { notifications }) => {
  app.get(
    '/v1/notifications',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Your notifications, newest first, and how many are unread',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50), unread: z.stringbool().optional() }),
        response: { 200: z.object({ notifications: z.array(notificationSchema), unread: z.number() }) },
      },
    },
    async (request) => notifications.list(principalOf(request).user.id, request.query),
  );
  app.post(
    '/v1/notifications/read',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Mark notifications read: those named, or all',
        body: z.strictObject({ ids: z.array(z.uuid()).max(500).optional() }),
        response: { 200: z.object({ marked: z.number() }) },
      },
    },
    async (request) => ({ marked: await notifications.markRead(principalOf(request).user.id, request.body.ids) }),
  );
};

/**
 * `POST /v1/hooks/:id`: webhook deliveries, on the public list (their signature is the
 * credential). The raw body is kept for the HMAC; a bad signature answers 401 and counts toward
 * the address's failed-authentication limit, like a bad token. The answer comes as soon as the
 * firing is recorded: its run starts after.
 */
export const hookRoutes: FastifyPluginAsyncZod<{ webhooks: WebhookReceiver; limiter: AuthFailureLimiter; maxBytes: number }> = async (
  app,
  { webhooks, limiter, maxBytes },
) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBytes }, (_request, body, done) => done(null, body));
  app.post(
    '/v1/hooks/:id',
    {
      bodyLimit: maxBytes,
      config: { ownBody: true },
      schema: {
        tags: ['triggers'],
        summary: 'A signed webhook delivery (X-Hub-Signature-256, or X-Agentry-Signature: t=<unix seconds>,v1=<hex HMAC of "t.body">)',
        security: [],
        params: z.object({ id: z.string().max(100) }),
        response: {
          202: z.object({ firingId: z.string().nullable(), duplicate: z.boolean() }),
          200: z.object({ firingId: z.string().nullable(), duplicate: z.boolean() }),
        },
      },
    },
    async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const header = (name: string) => {
        const value = request.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      try {
        const result = await webhooks.receive(request.params.id, {
          body,
          headers: {
            'x-hub-signature-256': header('x-hub-signature-256'),
            'x-github-delivery': header('x-github-delivery'),
            'x-agentry-signature': header('x-agentry-signature'),
            'x-agentry-delivery': header('x-agentry-delivery'),
          },
          parse: parseUntrustedJson,
        });
        return reply.code(result.duplicate ? 200 : 202).send(result);
      } catch (error) {
        if (!(error instanceof AppError) || error.code !== 'WEBHOOK_SIGNATURE_INVALID') throw error;
        const retryAfter = limiter.retryAfter(request.ip);
        limiter.fail(request.ip);
        if (retryAfter === 0) throw error;
        void reply.header('retry-after', String(retryAfter));
        throw new AppError('RATE_LIMITED', 'Too many deliveries with bad signatures from this address; retry later.');
      }
    },
  );
};
