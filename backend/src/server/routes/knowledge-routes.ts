import multipart from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { JsonValue } from '../../database/index.ts';
import { AppError } from '../../errors.ts';
import type { Features } from '../../features.ts';
import type { KnowledgeBase, KnowledgeSearch, NewDocument } from '../../knowledge/index.ts';
import { principalOf, requireAdmin } from '../auth.ts';
import { checkKey, parseUntrustedJson, storableText } from '../untrusted-input.ts';
import { idParams } from './schemas.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route reads its body itself (a multipart upload); no body schema applies. */
    ownBody?: boolean;
  }
}

const documentSchema = z.object({
  id: z.uuid(),
  title: z.string(),
  source: z.string().nullable(),
  tags: z.array(z.string()),
  metadata: z.unknown(),
  fileName: z.string().nullable(),
  contentType: z.string(),
  sizeBytes: z.number(),
  checksum: z.string().describe('SHA-256 of the original bytes'),
  status: z.enum(['pending', 'processing', 'completed', 'failed']),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  version: z.number(),
  chunkCount: z.number(),
  chunkSize: z.number(),
  chunkOverlap: z.number(),
  embeddingModel: z.string().nullable(),
  redactions: z.number().describe('Credentials replaced by [REDACTED] before chunking'),
  createdAt: z.string(),
  updatedAt: z.string(),
  processedAt: z.string().nullable(),
});

const tag = z.string().trim().min(1).max(100);
// A metadata value arrives from JSON.parse (the JSON body, or the form's metadata field read by
// parseUntrustedJson), so it is a JSON value already. z.json() would say so too, but its recursive
// schema leaves a reference to a missing component in the OpenAPI document.
const metadataValue = z.unknown().transform((value) => value as JsonValue);
const fields = {
  title: z.string().trim().min(1).max(500).optional(),
  source: z.string().trim().max(2000).optional(),
  tags: z.array(tag).max(50).optional(),
  metadata: z.record(z.string().max(200), metadataValue).optional(),
  chunkSize: z.number().int().optional(),
  overlap: z.number().int().optional(),
};
const jsonDocument = z.strictObject({ ...fields, title: z.string().trim().min(1).max(500), content: z.string() });
const maxFieldBytes = 64 * 1024;
// A multipart form carries text: its numbers are read from it (a JSON body's must be numbers).
const uploadFields = z.strictObject({
  ...fields,
  chunkSize: z.coerce.number().int().optional(),
  overlap: z.coerce.number().int().optional(),
  tags: z
    .string()
    .max(5000)
    .transform((v) =>
      v
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    )
    .pipe(z.array(tag).max(50))
    .optional(),
});

const searchBody = z.strictObject({
  query: z.string().trim().min(1, 'must not be empty').max(10_000, 'must be at most 10,000 characters'),
  limit: z.number().int().min(1).max(100).default(10),
  threshold: z.number().min(0).max(1).default(0),
  mode: z.enum(['hybrid', 'vector', 'keyword']).default('hybrid'),
  filters: z
    .strictObject({
      tags: z.array(tag).max(50).optional(),
      dateRange: z
        .strictObject({ start: z.iso.datetime({ offset: true }).optional(), end: z.iso.datetime({ offset: true }).optional() })
        .optional(),
      documentIds: z.array(z.uuid()).max(1000).optional(),
      source: z.string().max(2000).optional(),
    })
    .optional(),
});

function validation(error: z.ZodError, where: string): AppError {
  const issues = error.issues.map((i) => ({ path: [where, ...i.path].join('.'), message: i.message }));
  return new AppError('VALIDATION_FAILED', `The request is not valid: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, {
    details: {
      issues,
    },
  });
}

/**
 * A multipart upload: one file part and optional fields. Field names, values and the file's name
 * meet the same rules as a JSON body (untrusted-input.ts); `metadata` is JSON parsed by them.
 */
async function readUpload(request: FastifyRequest): Promise<NewDocument> {
  let file: { bytes: Buffer; fileName: string } | undefined;
  const raw: Record<string, unknown> = {};
  try {
    for await (const part of request.parts()) {
      checkKey(part.fieldname);
      if (part.type === 'file') {
        if (file) throw new AppError('VALIDATION_FAILED', 'Send one file per upload.');
        file = { bytes: await part.toBuffer(), fileName: storableText(part.filename) };
      } else {
        // A part sent as application/json arrives already parsed, outside these rules: refused.
        if (typeof part.value !== 'string')
          throw new AppError('VALIDATION_FAILED', `Send the "${part.fieldname}" field as plain text, not as a JSON part.`);
        if (part.valueTruncated)
          throw new AppError('VALIDATION_FAILED', `The "${part.fieldname}" field is longer than ${maxFieldBytes / 1024} KiB.`);
        const value = storableText(part.value);
        raw[part.fieldname] = part.fieldname === 'metadata' ? parseUntrustedJson(value, { what: 'The "metadata" field' }) : value;
      }
    }
  } catch (error) {
    // The form parser's own complaints (a body cut short, a broken boundary) carry no code: the
    // client sent them. Coded errors (a file over the limit: 413) keep theirs.
    if (error instanceof AppError || (error as { code?: unknown }).code !== undefined) throw error;
    throw new AppError('VALIDATION_FAILED', `The multipart body is malformed: ${(error as Error).message}.`);
  }
  if (!file) throw new AppError('VALIDATION_FAILED', 'The upload has no file part: send the document as multipart field "file".');
  const parsed = uploadFields.safeParse(raw);
  if (!parsed.success) throw validation(parsed.error, 'body');
  const { title, ...rest } = parsed.data;
  return { ...rest, bytes: file.bytes, fileName: file.fileName.slice(0, 255), ...(title ? { title } : {}) };
}

/** The knowledge base: documents, search, reindex. Every route answers 503 while the feature is off. */
export const knowledgeRoutes: FastifyPluginAsyncZod<{ knowledge: KnowledgeBase; search: KnowledgeSearch; features: Features }> = async (
  app,
  { knowledge, search, features },
) => {
  const maxBytes = knowledge.settings.maxUploadBytes;
  await app.register(multipart, { limits: { fileSize: maxBytes, files: 1, fields: 20, fieldSize: maxFieldBytes, parts: 25 } });
  app.addHook('preHandler', async () => features.require('knowledgeBase'));

  app.post(
    '/v1/knowledge/documents',
    {
      bodyLimit: maxBytes + 64 * 1024,
      config: { ownBody: true },
      schema: {
        tags: ['knowledge'],
        summary: 'Add a document: a multipart file (.txt, .md, .html, .pdf, .docx) or JSON {title, content, …}',
        description:
          'Answers 202 while the document is chunked and embedded in the background, or 200 with the existing document when you uploaded the same content before.',
        consumes: ['multipart/form-data', 'application/json'],
        response: { 200: z.object({ document: documentSchema }), 202: z.object({ document: documentSchema }) },
      },
    },
    async (request, reply) => {
      let input: NewDocument;
      if (request.isMultipart()) input = await readUpload(request);
      else {
        const parsed = jsonDocument.safeParse(request.body);
        if (!parsed.success) throw validation(parsed.error, 'body');
        const { content, ...rest } = parsed.data;
        input = { ...rest, bytes: Buffer.from(content, 'utf8') };
      }
      const { document, created } = await knowledge.create(principalOf(request).user.id, input);
      return reply.code(created ? 202 : 200).send({ document });
    },
  );

  app.get(
    '/v1/knowledge/documents',
    {
      schema: {
        tags: ['knowledge'],
        summary: 'List your documents, newest first',
        querystring: z.strictObject({
          status: z.enum(['pending', 'processing', 'completed', 'failed']).optional(),
          tag: tag.optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(200).optional(),
        }),
        response: { 200: z.object({ documents: z.array(documentSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => knowledge.list(principalOf(request).user.id, request.query),
  );

  app.get(
    '/v1/knowledge/documents/:id',
    {
      schema: {
        tags: ['knowledge'],
        summary: 'One document, with its chunk count, embedding model and any error',
        params: idParams,
        response: { 200: z.object({ document: documentSchema }) },
      },
    },
    async (request) => ({ document: await knowledge.get(principalOf(request).user.id, request.params.id) }),
  );

  app.put(
    '/v1/knowledge/documents/:id',
    {
      bodyLimit: maxBytes + 64 * 1024,
      schema: {
        tags: ['knowledge'],
        summary: 'Change a document: new content is re-chunked and re-embedded; search sees the old version until the new one is complete',
        params: idParams,
        body: z.strictObject({ ...fields, source: fields.source.nullable(), content: z.string().optional() }),
        response: { 200: z.object({ document: documentSchema }) },
      },
    },
    async (request) => ({ document: await knowledge.update(principalOf(request).user.id, request.params.id, request.body) }),
  );

  app.delete(
    '/v1/knowledge/documents/:id',
    {
      schema: {
        tags: ['knowledge'],
        summary: 'Delete a document with its chunks, vectors and stored file',
        params: idParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      await knowledge.delete(principalOf(request).user.id, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/knowledge/search',
    {
      config: { rateLimitGroup: 'knowledgeSearch' },
      schema: {
        tags: ['knowledge'],
        summary: 'Search your documents: hybrid (default), vector or keyword',
        body: searchBody,
        response: {
          200: z.object({
            results: z.array(
              z.object({
                chunkId: z.string(),
                documentId: z.string(),
                title: z.string(),
                content: z.string(),
                similarity: z.number().describe('Cosine similarity; threshold applies to it'),
                score: z.number(),
                metadata: z.unknown(),
              }),
            ),
            hasMore: z.boolean().describe('More passages above the threshold match than `limit`: a larger limit shows more'),
          }),
        },
      },
    },
    async (request) => search.search(principalOf(request).user.id, request.body),
  );

  const reindexSchema = z.object({
    reindex: z.object({
      state: z.enum(['idle', 'running']),
      activeModel: z.string().nullable(),
      configuredModel: z.string(),
      targetModel: z.string().nullable(),
      embedded: z.number(),
      total: z.number(),
    }),
  });
  app.post(
    '/v1/knowledge/reindex',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['knowledge'],
        summary: 'Re-embed every chunk with the configured model, in the background (admin)',
        response: { 202: reindexSchema },
      },
    },
    async (_request, reply) => reply.code(202).send({ reindex: await knowledge.reindex() }),
  );
  app.get(
    '/v1/knowledge/reindex',
    {
      preHandler: requireAdmin,
      schema: { tags: ['knowledge'], summary: 'Progress of a reindex (admin)', response: { 200: reindexSchema } },
    },
    async () => ({ reindex: await knowledge.reindexStatus() }),
  );
};
