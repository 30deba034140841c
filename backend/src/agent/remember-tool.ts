import { z } from 'zod';
import type { SessionContextStore } from '../sessions/index.ts';
import { ToolError, type ToolDefinition } from '../tools/index.ts';

/** The built-in tool the agent keeps facts with: every session is offered it. */
export const rememberToolName = 'remember';

/** A remembered object is small: the session's whole context rides along with every step. */
const maxFactsBytes = 4096;
const maxFactsKeys = 20;

const input = z.strictObject({
  facts: z
    .record(z.string().min(1).max(100), z.unknown())
    .describe('Facts to keep for the rest of this session, as a small JSON object; a key set to null is forgotten.'),
});

/** Built once: the tool is bound anew to each turn, its schema never changes. */
const inputSchema = z.toJSONSchema(input, { io: 'input' }) as Record<string, unknown>;

/**
 * `remember`: merges a small JSON object into the session's context, which the model reads (as
 * data) in every later step of every conversation of the session. Sanitised and capped as the
 * context a session is created with; the change makes a checkpoint and a `session.context_updated`
 * event. `onUpdated` hands the new context to the running turn, so its next step already reads it.
 * Idempotent: merging the same object twice leaves the same context.
 */
export function rememberTool(options: {
  store: SessionContextStore;
  session: { id: string; user_id: string };
  onUpdated: (context: Record<string, unknown>) => void;
}): ToolDefinition<
  z.output<typeof input>,
  { remembered: string[]; forgotten: string[]; dropped: Array<{ path: string; reason: string }> }
> {
  const parse = (raw: unknown) => {
    const parsed = input.parse(raw);
    const keys = Object.keys(parsed.facts);
    if (keys.length === 0 || keys.length > maxFactsKeys || Buffer.byteLength(JSON.stringify(parsed.facts)) > maxFactsBytes)
      throw new ToolError(
        'TOOL_INPUT_INVALID',
        `Give between 1 and ${maxFactsKeys} facts, at most ${maxFactsBytes} bytes of JSON together.`,
      );
    return parsed;
  };
  return {
    name: rememberToolName,
    description:
      'Keeps facts for the rest of this session (every later message and conversation of it reads them, under "Session context"). Give a small JSON object; a key set to null is forgotten. Never store secrets.',
    inputSchema,
    idempotent: true,
    parse,
    execute: async (raw) => {
      const { facts } = parse(raw);
      const { context, dropped } = await options.store.merge({
        userId: options.session.user_id,
        sessionId: options.session.id,
        patch: facts,
        by: 'agent',
      });
      options.onUpdated(context);
      const keys = Object.keys(facts);
      return {
        remembered: keys.filter((key) => facts[key] !== null && key in context),
        forgotten: keys.filter((key) => facts[key] === null),
        dropped,
      };
    },
  };
}
