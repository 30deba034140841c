import { z } from 'zod';
import { AppError } from '../errors.ts';

/** The most text one request may carry in its messages, whole history included (characters). */
export const maxRequestChars = 200_000;
/** The most text that becomes one turn's message: the REST path's limit for a message. */
export const maxTurnChars = 100_000;

const textPart = z.object({ type: z.literal('text'), text: z.string() });
// `null` (an assistant message that only called tools) reads as absent; a schema of "string, parts or null" has no single type for OpenAPI 3.0.
const content = z.preprocess(
  (value) => value ?? undefined,
  z.union([z.string(), z.array(z.union([textPart, z.object({ type: z.string() }).loose()])).max(100)]).optional(),
);
const message = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
    content,
    name: z.string().max(200).optional(),
  })
  .loose();

/**
 * The body of `POST /v1/openai/chat/completions` as this endpoint reads it. Loose on purpose:
 * a field we do not read is refused by name in `checkSupported`, with a message saying why,
 * rather than by a generic "unrecognized key".
 */
export const completionRequestSchema = z
  .object({
    model: z.string().min(1).max(200).describe('An agent (id or slug) or a template slug: GET /v1/openai/models lists them'),
    messages: z.array(message).min(1).max(1000),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().nullish() }).loose().nullish(),
    user: z.string().max(200).nullish().describe("A session id continues that session; any other value is the client's own label"),
    n: z.number().int().min(1).max(128).nullish(),
  })
  .loose();

export type CompletionRequest = z.infer<typeof completionRequestSchema>;

/**
 * Parameters a client may send that do not change what Agentry answers: the agent's own settings
 * decide sampling and length. Accepted and not applied, so clients that always send them work.
 */
const ignored = new Set([
  'temperature',
  'top_p',
  'max_tokens',
  'max_completion_tokens',
  'presence_penalty',
  'frequency_penalty',
  'seed',
  'stop',
  'metadata',
  'store',
  'service_tier',
  'reasoning_effort',
  'parallel_tool_calls',
  'logit_bias',
]);
const read = new Set(['model', 'messages', 'stream', 'stream_options', 'user', 'n']);

/** Why each parameter a client commonly sends is refused, in words a client's developer acts on. */
const refusals: Record<string, string> = {
  tools: "Client-side tools are not supported: the agent's own tools (integrations, knowledge search) run on the server.",
  functions: "Client-side functions are not supported: the agent's own tools (integrations, knowledge search) run on the server.",
  tool_choice: 'tool_choice is not supported: the agent chooses among its own tools on the server.',
  function_call: 'function_call is not supported: the agent chooses among its own tools on the server.',
  response_format: 'response_format is not supported: the agent answers in text.',
  logprobs: 'logprobs are not supported.',
  top_logprobs: 'logprobs are not supported.',
  audio: 'Audio output is not supported: the agent answers in text.',
  modalities: 'Only text is supported.',
  prediction: 'Predicted outputs are not supported.',
  web_search_options: "web_search_options is not supported: the agent's own tools run on the server.",
};

/**
 * Refuses what this endpoint does not do, naming the parameter (OpenAI's `param`): client tools,
 * more than one choice, non-text content, tool messages, and any parameter it does not know.
 * Runs before anything is created.
 */
export function checkSupported(request: CompletionRequest): void {
  for (const key of Object.keys(request)) {
    if (read.has(key) || ignored.has(key)) continue;
    const value = (request as Record<string, unknown>)[key];
    // Some clients send the defaults of what we refuse (`"tools": []`, `"logprobs": false`): nothing asked, nothing refused.
    if (value === null || value === false || (Array.isArray(value) && value.length === 0)) continue;
    if (key === 'response_format' && (value as { type?: unknown }).type === 'text') continue;
    if (key === 'modalities' && Array.isArray(value) && value.every((m) => m === 'text')) continue;
    throw unsupported(key, refusals[key] ?? `The parameter "${key}" is not supported by this endpoint.`);
  }
  if (request.n !== undefined && request.n !== null && request.n > 1) throw unsupported('n', 'Only one choice is supported: n must be 1.');
  let chars = 0;
  request.messages.forEach((m, i) => {
    if (m.role === 'tool' || m.role === 'function')
      throw unsupported(`messages[${i}].role`, 'Tool messages are not supported: client-side tools are not, either.');
    const extra = Object.keys(m).find((k) => k === 'tool_calls' || k === 'function_call' || k === 'audio');
    if (extra && !isEmpty((m as Record<string, unknown>)[extra]))
      throw unsupported(`messages[${i}].${extra}`, 'Client-side tool calls are not supported.');
    if (Array.isArray(m.content)) {
      const other = m.content.findIndex((part) => part.type !== 'text');
      if (other >= 0) throw unsupported(`messages[${i}].content[${other}]`, 'Only text content is supported.');
    }
    chars += textOf(m.content).length;
  });
  if (chars > maxRequestChars)
    throw new AppError('PAYLOAD_TOO_LARGE', `The messages hold more than ${maxRequestChars.toLocaleString('en')} characters.`);
}

/** A message's text: its string, or its text parts joined. */
export function textOf(value: CompletionRequest['messages'][number]['content']): string {
  if (typeof value === 'string') return value;
  if (!value) return '';
  return value.map((part) => (part.type === 'text' ? (part as { text: string }).text : '')).join('');
}

function isEmpty(value: unknown): boolean {
  return value === null || value === undefined || (Array.isArray(value) && value.length === 0);
}

function unsupported(param: string, message: string): AppError {
  return new AppError('UNSUPPORTED_PARAMETER', message, { details: { param } });
}
