import { z } from 'zod';
import type { ToolDefinition } from '../tools/index.ts';
import { completeSessionToolName } from '../templates/index.ts';

const input = z.strictObject({
  summary: z.string().trim().min(1).max(2000).describe('What the run did, in a sentence or two, for the user'),
});

/**
 * How an agent running a template says it has worked through the template's steps: the step that
 * calls it is the session's last, and the session is `completed` in that step's transaction.
 * Offered to every template session, whatever the agent's allow-list: it ends the run, it reaches
 * nothing outside.
 */
/** Made once: converting the schema is not free, and templates' sessions offer the tool at every step. */
const inputSchema = z.toJSONSchema(input, { io: 'input' }) as Record<string, unknown>;

export function completeSessionTool(): ToolDefinition<z.output<typeof input>, { completed: true; summary: string }> {
  const parse = (raw: unknown) => input.parse(raw);
  return {
    name: completeSessionToolName,
    description:
      'Ends this run once every step of the template is done: the session is marked completed. Give a short summary of what was done.',
    inputSchema,
    idempotent: true, // its effect is the step's own transaction
    parse,
    execute: async (raw) => ({ completed: true, summary: parse(raw).summary }),
  };
}
