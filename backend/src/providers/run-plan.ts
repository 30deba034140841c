import { z } from 'zod';

/**
 * The run plan: a template session's steps and variables, as a block of JSON in its system prompt.
 * The prose above it is written for a language model; this block says the same for a program (the
 * offline responder follows it) and gives a model the exact tool names and values. It is part of
 * the prompt, not a side channel, so whatever answers the prompt sees the same plan.
 */
export interface RunPlan {
  /** The steps that can run with what is connected, in order. */
  steps: Array<{ instruction: string; tools: string[] }>;
  /** The session's resolved variables (defaults applied), with what the template says of each. */
  variables: Array<{ name: string; type: string; description?: string | undefined; value: unknown }>;
  /** The tool that ends the run once every step is done (the agent's `complete_session`). */
  finishTool: string;
  /** Today in the user's time zone (YYYY-MM-DD), and that zone: times a plan needs are built from them. */
  today: string;
  timezone: string;
}

const openTag = '<run-plan>';
const closeTag = '</run-plan>';
/** A plan larger than this is not read: templates allow 50 steps, and variables are capped well below it. */
const maxPlanChars = 200_000;

const planSchema = z.object({
  steps: z.array(z.object({ instruction: z.string().max(8_000), tools: z.array(z.string().max(200)).max(50) })).max(100),
  variables: z
    .array(
      z.object({ name: z.string().max(200), type: z.string().max(50), description: z.string().max(4_000).optional(), value: z.unknown() }),
    )
    .max(100),
  finishTool: z.string().max(200),
  today: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  timezone: z.string().max(100),
});

const jsonEscapes: Record<string, string> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026' };

/**
 * The plan as it goes into a prompt: `<run-plan>` JSON `</run-plan>`. `<`, `>` and `&` are written as
 * JSON escapes, so no value (a variable is user text) can close the block or open another: the
 * JSON reads back the same.
 */
export function runPlanBlock(plan: RunPlan): string {
  return `${openTag}${JSON.stringify(plan).replace(/[<>&]/g, (c) => jsonEscapes[c]!)}${closeTag}`;
}

/**
 * The run plan a prompt carries, if it carries one that reads: the first well-formed block wins,
 * so text before it that merely looks like one (a template author's) cannot replace it.
 */
export function readRunPlan(text: string): RunPlan | undefined {
  let from = 0;
  for (;;) {
    const start = text.indexOf(openTag, from);
    if (start < 0) return undefined;
    const end = text.indexOf(closeTag, start + openTag.length);
    if (end < 0) return undefined;
    from = end + closeTag.length;
    const body = text.slice(start + openTag.length, end);
    if (body.length > maxPlanChars) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      continue;
    }
    const plan = planSchema.safeParse(parsed);
    if (plan.success) return plan.data;
  }
}
