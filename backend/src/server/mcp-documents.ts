import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, ListResourcesRequestSchema, McpError, type Resource } from '@modelcontextprotocol/sdk/types.js';
import type { PublicUser } from '../accounts/index.ts';
import { AppError } from '../errors.ts';
import type { Features } from '../features.ts';
import type { DocumentView, KnowledgeBase } from '../knowledge/index.ts';

export interface McpDocumentDeps {
  knowledge: KnowledgeBase;
  features: Features;
}

/** Documents per page of `resources/list`. */
export const documentsPerPage = 50;
/** Characters of a document's text a read returns, at most: the rest is searchable, not sent. */
export const maxDocumentChars = 200_000;
/** The MCP error code for a resource that does not exist (the specification's own). */
const resourceNotFound = -32002;

const documentUri = (id: string) => `agentry://documents/${id}`;

function describe(document: DocumentView): Resource {
  return {
    uri: documentUri(document.id),
    name: document.title,
    title: document.title,
    mimeType: 'text/plain',
    description: `${document.status} document${document.fileName ? ` from ${document.fileName}` : ''}, ${document.sizeBytes} bytes`,
  };
}

/**
 * The user's knowledge-base documents as MCP resources, `agentry://documents/{id}`: listed newest
 * first a page at a time (the cursor is the REST list's), read as their extracted text, capped at
 * `maxDocumentChars`. Another user's document, like a missing one, is "not found".
 */
export function registerMcpDocuments(server: McpServer, user: PublicUser, deps: McpDocumentDeps): void {
  const listPage = async (cursor: string | undefined) => {
    await deps.features.require('knowledgeBase');
    const page = await deps.knowledge.list(user.id, { limit: documentsPerPage, ...(cursor ? { cursor } : {}) });
    return { resources: page.documents.map(describe), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  };

  server.registerResource(
    'document',
    new ResourceTemplate('agentry://documents/{id}', { list: () => listPage(undefined) }),
    { title: 'Knowledge-base document', description: 'One of your documents, as its extracted text', mimeType: 'text/plain' },
    async (uri, variables) => {
      const id = [variables.id].flat()[0] ?? '';
      try {
        await deps.features.require('knowledgeBase');
        const { document, text, truncated } = await deps.knowledge.text(user.id, id, maxDocumentChars);
        return {
          contents: [{ uri: uri.href, mimeType: 'text/plain', text }],
          _meta: { title: document.title, status: document.status, truncated },
        };
      } catch (error) {
        throw toMcpError(error, uri.href);
      }
    },
  );
  // The SDK's own list handler asks a template's list callback for everything at once and drops
  // the request's cursor; the documents come a page at a time instead.
  server.server.setRequestHandler(ListResourcesRequestSchema, async (request) => {
    try {
      return await listPage(request.params?.cursor);
    } catch (error) {
      throw toMcpError(error);
    }
  });
}

function toMcpError(error: unknown, uri?: string): McpError {
  if (!(error instanceof AppError)) return new McpError(ErrorCode.InternalError, 'Something went wrong on our side.');
  if (error.code === 'NOT_FOUND') return new McpError(resourceNotFound, `Resource not found: ${uri}`, { uri });
  const code = error.status < 500 ? ErrorCode.InvalidParams : ErrorCode.InternalError;
  return new McpError(code, `${error.code}: ${error.message}`);
}
