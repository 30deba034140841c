import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { templateDefinitionSchema, type TemplateService } from '../../templates/index.ts';
import { providerIdPattern } from '../../tools/index.ts';
import { principalOf } from '../auth.ts';

const templateSchema = templateDefinitionSchema.extend({
  id: z.uuid(),
  version: z.number().int(),
  builtIn: z.boolean().describe('Built-ins come from the shipped library and are read-only'),
  createdAt: z.string().describe('When this version was made'),
});
const listingSchema = templateSchema.extend({
  available: z.boolean().describe('Every required integration is connected'),
  missingIntegrations: z.array(z.string()),
});
const idOrSlug = z.object({ id: z.string().min(1).max(100).describe('A template id, or a slug (your own first, then a built-in)') });
const versionNumber = z.number().int().min(1).max(1_000_000);
const queryFlag = z.enum(['true', 'false']).transform((v) => v === 'true');

const promptBody = z.strictObject({
  variables: z
    .record(z.string().max(64), z.unknown())
    .optional()
    .describe('Values by variable name; checked and coerced against the declared types'),
  integrations: z
    .array(z.string().regex(providerIdPattern, 'must be a provider id such as "gmail"'))
    .max(50)
    .optional()
    .describe('Provider ids of connected integrations to use'),
  version: versionNumber.optional().describe('A version to render; the latest by default'),
});
const promptResponse = z.object({
  systemPrompt: z.string(),
  userPrompt: z.string().optional(),
  tools: z.array(z.string()),
  variables: z.record(z.string(), z.unknown()),
  missingIntegrations: z.array(z.string()),
  templateVersion: z.number(),
  cache: z.enum(['hit', 'miss']),
});
const matchResponse = z.object({
  matches: z.array(z.object({ templateId: z.uuid(), name: z.string(), confidence: z.number(), available: z.boolean() })),
  threshold: z.number().describe('At or above this confidence, chat starts the template directly'),
});

/**
 * The service validates a template definition once, answering 400 TEMPLATE_INVALID naming the
 * problem; on the routes that take one, the body schema only documents the shape.
 */
const documentedOnly = { validatorCompiler: () => (value: unknown) => ({ value }) };

/** Templates: the gallery (built-ins and the caller's own), versions, prompt generation and chat matching. */
export const templateRoutes: FastifyPluginAsyncZod<{ templates: TemplateService }> = async (app, { templates }) => {
  const tags = ['templates'];

  app.get(
    '/v1/templates',
    {
      schema: {
        tags,
        summary: 'The templates you can run: the built-ins and your own',
        querystring: z.strictObject({
          category: z.string().max(60).optional(),
          tag: z.string().max(60).optional(),
          available: queryFlag.optional(),
        }),
        response: { 200: z.object({ templates: z.array(listingSchema) }) },
      },
    },
    async (request) => ({ templates: await templates.list(principalOf(request).user.id, request.query) }),
  );

  app.post(
    '/v1/templates/match',
    {
      schema: {
        tags,
        summary: 'Rank templates for a chat message',
        body: z.strictObject({ message: z.string().trim().min(1, 'must not be empty').max(10_000, 'must be at most 10,000 characters') }),
        response: { 200: matchResponse },
      },
    },
    async (request) => ({
      matches: await templates.match(principalOf(request).user.id, request.body.message),
      threshold: templates.matchThreshold,
    }),
  );

  app.get(
    '/v1/templates/:id',
    {
      schema: {
        tags,
        summary: 'A template, at its latest version or ?version=',
        params: idOrSlug,
        querystring: z.strictObject({ version: z.coerce.number().pipe(versionNumber).optional() }),
        response: { 200: z.object({ template: templateSchema }) },
      },
    },
    async (request) => ({ template: await templates.get(principalOf(request).user.id, request.params.id, request.query.version) }),
  );

  app.get(
    '/v1/templates/:id/versions',
    {
      schema: {
        tags,
        summary: "A template's versions, newest first",
        params: idOrSlug,
        response: { 200: z.object({ versions: z.array(z.object({ version: z.number(), createdAt: z.string() })) }) },
      },
    },
    async (request) => ({ versions: await templates.versions(principalOf(request).user.id, request.params.id) }),
  );

  app.post(
    '/v1/templates',
    {
      ...documentedOnly,
      schema: {
        tags,
        summary: 'Create a template of your own',
        body: templateDefinitionSchema,
        response: { 201: z.object({ template: templateSchema }) },
      },
    },
    async (request, reply) => reply.code(201).send({ template: await templates.create(principalOf(request).user.id, request.body) }),
  );

  app.put(
    '/v1/templates/:id',
    {
      ...documentedOnly,
      schema: {
        tags,
        summary: 'Change one of your templates: the change becomes its next version',
        params: idOrSlug,
        body: templateDefinitionSchema,
        response: { 200: z.object({ template: templateSchema }) },
      },
    },
    async (request) => ({ template: await templates.update(principalOf(request).user.id, request.params.id, request.body) }),
  );

  app.delete(
    '/v1/templates/:id',
    { schema: { tags, summary: 'Delete one of your templates (built-ins are read-only)', params: idOrSlug, response: { 204: z.null() } } },
    async (request, reply) => {
      await templates.delete(principalOf(request).user.id, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/templates/:id/prompt',
    {
      config: { rateLimitGroup: 'promptGeneration' },
      schema: {
        tags,
        summary: 'Render the prompt for a template and your inputs',
        params: idOrSlug,
        body: promptBody,
        response: { 200: promptResponse },
      },
    },
    async (request) => {
      const { user } = principalOf(request);
      return templates.prompt(user, request.params.id, request.body);
    },
  );
};
