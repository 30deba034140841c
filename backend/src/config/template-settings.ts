import { z } from 'zod';
import { modelIdPattern } from '../providers/index.ts';
import { bool, int } from './value-schemas.ts';

/** Templates: rendered-prompt caching and matching chat messages to a template. */
export const templateSettings = {
  FEATURE_CHAT_AUTO_EXECUTE: bool.default(true).describe('Run a matching template straight from a chat message.'),
  PROMPT_CACHE_MAX_ENTRIES: int(1, 1_000_000)
    .default(1000)
    .describe('Rendered prompts kept in memory per instance; the least recently used go first.'),
  TEMPLATE_MATCH_THRESHOLD: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0.8)
    .describe('Confidence at which a chat message starts its matching template directly.'),
  TEMPLATE_MATCH_EMBEDDING_MODEL: z
    .string()
    .regex(modelIdPattern, 'must be provider:model, e.g. local:hashing, openai:text-embedding-3-small or ollama:nomic-embed-text')
    .default('local:hashing')
    .describe(
      'Embedding model for matching chat messages to templates, named like EMBEDDING_MODEL. The confidence curve is fitted for local:hashing.',
    ),
} as const;
