import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ModelCatalogue } from '../../providers/index.ts';

const priceSchema = z.object({
  input: z.number().describe('USD per million input tokens.'),
  output: z.number().describe('USD per million output tokens.'),
  cachedInput: z.number().optional().describe('USD per million input tokens read from the prompt cache.'),
});

const listedModel = z.object({
  id: z.string().describe('What an agent or a session names: provider:model.'),
  contextWindow: z.number().nullable().describe('Tokens the model reads at most, when known.'),
  price: priceSchema,
  priceEstimated: z.boolean().describe('No price is set for this model: it is counted at DEFAULT_MODEL_PRICE.'),
});

const listedProvider = z.object({
  provider: z.string(),
  kind: z.enum(['local', 'openai', 'anthropic', 'google', 'endpoint']),
  status: z
    .enum(['ok', 'unreachable'])
    .describe("An endpoint that did not answer its model list is unreachable; its models can't be listed."),
  error: z.string().nullable(),
  models: z.array(listedModel),
});

export const modelRoutes: FastifyPluginAsyncZod<{ models: ModelCatalogue }> = async (app, { models }) => {
  app.get(
    '/v1/models',
    {
      schema: {
        tags: ['models'],
        summary: 'The language models this installation can use',
        description:
          'The local model, the known models of each configured vendor, and each MODEL_ENDPOINTS server’s own list (asked at its /models, kept 30 s), with context window and price where known. Any other model of a configured provider can still be named by id.',
        response: { 200: z.object({ defaultModel: z.string(), providers: z.array(listedProvider) }) },
      },
    },
    async () => models.list(),
  );
};
