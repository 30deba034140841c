import { z } from 'zod';
import { modelIdPattern } from '../providers/index.ts';
import { bool, int } from './value-schemas.ts';

/** The knowledge base: its embedding model, where documents are stored and how they are read. */
export const knowledgeSettings = {
  FEATURE_KNOWLEDGE_BASE: bool.default(true).describe('Knowledge base routes and search.'),
  EMBEDDING_MODEL: z
    .string()
    .regex(modelIdPattern, 'must be provider:model, e.g. local:hashing, openai:text-embedding-3-small or ollama:nomic-embed-text')
    .default('local:hashing')
    .describe(
      'Embedding model for the knowledge base: local:hashing, openai:<model>, or <endpoint>:<model> for an endpoint in MODEL_ENDPOINTS. Checked at start; a change takes effect after "agentry kb reindex".',
    ),
  EMBEDDING_DIMENSIONS: int(1, 2000)
    .optional()
    .describe(
      'Vector length of EMBEDDING_MODEL when it is not an OpenAI model we know (asked of the server with one embedding when unset).',
    ),
  EMBEDDING_MAX_ATTEMPTS: int(1, 20).default(5).describe('Attempts per embedding request; 429 and 5xx answers are retried with backoff.'),
  KB_STORAGE_DIR: z.string().min(1).optional().describe('Directory for uploaded originals. Default AGENTRY_DATA_DIR/documents.'),
  KB_MAX_UPLOAD_BYTES: int(1024, 1024 * 1024 * 1024)
    .default(20 * 1024 * 1024)
    .describe('Largest accepted document; larger ones answer 413.'),
  KB_CHUNK_SIZE: int(50, 2000).default(500).describe('Default chunk size in tokens (cl100k_base).'),
  KB_CHUNK_OVERLAP: int(0, 1000).default(50).describe('Default overlap between consecutive chunks, in tokens.'),
  KB_WORKERS: int(1, 64)
    .default(2)
    .describe(
      'Document reader processes (reading and chunking); each reads one document at a time, and a user has at most one being read.',
    ),
  KB_READ_TIMEOUT_MS: int(100, 3_600_000)
    .default(60_000)
    .describe(
      'How long reading or chunking one document may take, from when it starts; a slower one fails alone with DOCUMENT_TOO_COMPLEX.',
    ),
  KB_READ_MEMORY_MB: int(128, 65_536)
    .default(1024)
    .describe('Memory of a document reader process, buffers included; a document needing more fails alone with DOCUMENT_TOO_COMPLEX.'),
  KB_MAX_INFLATED_BYTES: int(1024 * 1024, 16 * 1024 * 1024 * 1024)
    .default(128 * 1024 * 1024)
    .describe(
      "Bytes a .docx or PDF may unpack to, counted while unpacking (never trusting what the file declares); past 16 MiB also at most 64 times the file's size.",
    ),
  KB_MAX_TEXT_CHARS: int(1024, 256 * 1024 * 1024)
    .default(20 * 1024 * 1024)
    .describe(
      "Characters a document's extracted text may have (a plain text file's text is its bytes); a longer one is refused with DOCUMENT_TOO_COMPLEX.",
    ),
} as const;
