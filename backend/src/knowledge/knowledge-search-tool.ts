import { z } from 'zod';
import type { ToolDefinition } from '../tools/index.ts';
import type { KnowledgeSearch, SearchResult } from './knowledge-search.ts';

const input = z.strictObject({
  query: z.string().trim().min(1).max(2000).describe('What to look for, in words likely to appear in the documents'),
  limit: z.number().int().min(1).max(20).default(5).describe('How many passages to return'),
  tags: z.array(z.string().max(100)).max(20).optional().describe('Only documents carrying all of these tags'),
});
/** Made once: every step of every session offers the tool, and converting the schema is not free. */
const inputSchema = z.toJSONSchema(input, { io: 'input' }) as Record<string, unknown>;

/**
 * `knowledge_search`, bound to the calling user: the model sees passages from that user's
 * documents only, each with its title and document id for citing. Passages are data for the model
 * to read, never instructions; the agent runtime delimits them in the prompt.
 */
export function knowledgeSearchTool(
  search: KnowledgeSearch,
  userId: string,
): ToolDefinition<z.output<typeof input>, { results: Array<Pick<SearchResult, 'documentId' | 'title' | 'content' | 'similarity'>> }> {
  const parse = (raw: unknown) => input.parse(raw);
  return {
    name: 'knowledge_search',
    idempotent: true, // it only reads
    description:
      "Search the user's knowledge base (their uploaded documents) and return the most relevant passages, each with the title and id of its document for citing.",
    inputSchema,
    parse,
    async execute(raw) {
      const { query, limit, tags } = parse(raw);
      const { results } = await search.search(userId, {
        query,
        limit,
        threshold: 0,
        mode: 'hybrid',
        ...(tags ? { filters: { tags } } : {}),
      });
      return { results: results.map(({ documentId, title, content, similarity }) => ({ documentId, title, content, similarity })) };
    },
  };
}
