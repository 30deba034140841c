import type { JSONSchema7, LanguageModelV3FunctionTool, LanguageModelV3Prompt, LanguageModelV3ToolResultPart } from '@ai-sdk/provider';
import { z } from 'zod';
import { hashingEmbedding } from './local-hashing-embedder.ts';
import { followRunPlan } from './offline-steps.ts';
import { readRunPlan, type RunPlan } from './run-plan.ts';

/*
 * What `local:offline` says, decided from the prompt and the offered tools alone, so the same
 * prompt always gets the same reply. The rules, first match wins:
 *  0. The system prompt carries a template's run plan (see run-plan.ts): unless the user's last
 *     message is a `/tool` command, follow the plan's steps (offline-steps.ts) to the end of the run.
 *  1. The prompt ends with tool results: answer from them (knowledge passages are quoted and
 *     cited). This comes first so a `/tool` command answered by its tool does not run again.
 *  2. The prompt ends with a user message containing `/tool <name> <json>`: call that tool.
 *  3. The user asks a question and `knowledge_search` is offered: search for the question.
 *  4. One offered tool clearly matches the message: call it, or say how to (when it needs input).
 *  5. Otherwise: say this is not a language model and how to configure one.
 */

/** A text answer, or a tool call (with, sometimes, text said beside it). */
export type OfflineReply =
  { kind: 'text'; text: string } | { kind: 'tool-call'; toolName: string; input: Record<string, unknown>; text?: string };

export const notALanguageModel = 'I am the offline responder, not a language model.';

/**
 * How clear a tool match must be. Similarities are cosines of `local:hashing` vectors of the
 * message and of the tool's name and description. On a set of typical tools (calendar, mail,
 * chat, issues, time), a message naming what a tool does scored 0.4-0.85 for it, while small talk
 * scored under 0.15 for every tool, and a message that two tools fit about equally well ("search
 * emails" vs "send email") separated them by 0.3. A match needs the floor and a lead over the
 * runner-up, so a message that two tools fit equally well picks neither.
 */
export const toolMatch = { floor: 0.25, margin: 0.1 } as const;

const knowledgeSearch = 'knowledge_search';
const questionStart = /^(who|whom|whose|what|when|where|why|how|which|does|did|is|are|was|were|can|could|should|would|will|has|may)\b/i;
const toolCommand = /(?:^|\s)\/tool\s+([A-Za-z0-9_.:-]+)([\s\S]*)$/;
const passageLength = 280;
const summaryLength = 400;

/** The reply to a prompt, given the tools the call offers (already narrowed by the tool choice). */
export function offlineReply(prompt: LanguageModelV3Prompt, tools: LanguageModelV3FunctionTool[]): OfflineReply {
  const last = prompt.at(-1);
  const plan = runPlanOf(prompt);
  if (plan && !(last?.role === 'user' && toolCommand.test(userText(last.content)))) {
    const move = followRunPlan(plan, prompt, tools);
    if (move.kind === 'done') return text(move.text);
    return {
      kind: 'tool-call',
      toolName: move.toolName,
      input: move.input,
      ...(move.text ? { text: `${notALanguageModel} ${move.text}` } : {}),
    };
  }
  if (last?.role === 'tool') {
    const results = last.content.filter((part): part is LanguageModelV3ToolResultPart => part.type === 'tool-result');
    if (results.length > 0) return text(results.map(answerFromResult).join('\n\n'));
  }
  if (last?.role !== 'user') return text(offlineHelp(tools));
  const message = userText(last.content);

  const command = toolCommand.exec(message);
  if (command) return fromCommand(command[1]!, command[2]!.trim(), tools);

  const search = tools.find((tool) => tool.name === knowledgeSearch);
  if (search && isQuestion(message)) return { kind: 'tool-call', toolName: knowledgeSearch, input: { query: message } };

  const best = bestTool(message, tools);
  if (best) {
    const required = requiredInputs(best.inputSchema);
    if (required.length === 0) return { kind: 'tool-call', toolName: best.name, input: {} };
    return text(
      `The tool ${best.name} fits your message, but it needs input (${required.join(', ')}): write /tool ${best.name} ${exampleInput(best)}`,
    );
  }
  return text(offlineHelp(tools));
}

type UserContent = Extract<LanguageModelV3Prompt[number], { role: 'user' }>['content'];

function userText(content: UserContent): string {
  return content
    .flatMap((part) => (part.type === 'text' ? [part.text] : []))
    .join('\n')
    .trim();
}

/** The run plan of a template session, from its system prompt (the first one that reads). */
function runPlanOf(prompt: LanguageModelV3Prompt): RunPlan | undefined {
  for (const message of prompt) {
    if (message.role !== 'system') continue;
    const plan = readRunPlan(message.content);
    if (plan) return plan;
  }
  return undefined;
}

function text(body: string): OfflineReply {
  return { kind: 'text', text: `${notALanguageModel} ${body}` };
}

function isQuestion(message: string): boolean {
  return message.length > 0 && (/\?\s*$/.test(message) || questionStart.test(message));
}

function fromCommand(name: string, rawInput: string, tools: LanguageModelV3FunctionTool[]): OfflineReply {
  const tool = tools.find((t) => t.name === name);
  if (!tool) {
    const offered = tools.length > 0 ? `the tools offered are ${tools.map((t) => t.name).join(', ')}` : 'no tools are offered here';
    return text(`There is no tool "${name}" in this conversation; ${offered}.`);
  }
  let input: unknown = {};
  try {
    if (rawInput !== '') input = JSON.parse(rawInput);
  } catch {
    input = undefined;
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return text(`That is not a tool call I can read: write /tool <name> <JSON object>, e.g. /tool ${tool.name} ${exampleInput(tool)}`);
  }
  return { kind: 'tool-call', toolName: tool.name, input: input as Record<string, unknown> };
}

/** The offered tool that clearly matches the message best, if one does. */
export function bestTool(message: string, tools: LanguageModelV3FunctionTool[]): LanguageModelV3FunctionTool | undefined {
  if (tools.length === 0 || message.length === 0) return undefined;
  const query = hashingEmbedding(message);
  const scored = tools
    .map((tool) => ({ tool, score: dot(query, hashingEmbedding(`${tool.name} ${tool.description ?? ''}`)) }))
    .sort((a, b) => b.score - a.score);
  const [first, second] = scored;
  if (!first || first.score < toolMatch.floor) return undefined;
  if (second && first.score - second.score < toolMatch.margin) return undefined;
  return first.tool;
}

function dot(a: number[], b: number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

function requiredInputs(schema: JSONSchema7): string[] {
  return Array.isArray(schema.required) ? schema.required : [];
}

function exampleInput(tool: LanguageModelV3FunctionTool): string {
  const required = requiredInputs(tool.inputSchema);
  const names = required.length > 0 ? required : tool.name === knowledgeSearch ? ['query'] : [];
  return JSON.stringify(Object.fromEntries(names.map((name) => [name, '…'])));
}

function offlineHelp(tools: LanguageModelV3FunctionTool[]): string {
  const offered = tools.length > 0 ? ` (offered here: ${tools.map((t) => t.name).join(', ')})` : '';
  return (
    `I can call a tool when you write /tool <name> <JSON>${offered}, search the knowledge base when you ask a question, ` +
    'and quote what tools return. For real answers, set DEFAULT_MODEL to a language model: openai:<model> with OPENAI_API_KEY, ' +
    'or <name>:<model> with MODEL_ENDPOINTS for an OpenAI-compatible server such as Ollama or vLLM.'
  );
}

const knowledgeResults = z.object({
  results: z.array(z.object({ title: z.string().nullish(), content: z.string(), documentId: z.string().nullish() })),
});

function answerFromResult(part: LanguageModelV3ToolResultPart): string {
  const output = part.output;
  if (output.type === 'execution-denied')
    return `The call to ${part.toolName} was not allowed${output.reason ? `: ${output.reason}` : ''}.`;
  if (output.type === 'error-text' || output.type === 'error-json') return `The tool ${part.toolName} failed: ${compact(output.value)}`;
  const value =
    output.type === 'content' ? output.value.flatMap((item) => (item.type === 'text' ? [item.text] : [])).join('\n') : output.value;
  const parsed =
    part.toolName === knowledgeSearch ? knowledgeResults.safeParse(typeof value === 'string' ? parseJson(value) : value) : undefined;
  if (!parsed?.success) return `The tool ${part.toolName} returned: ${compact(value)}`;
  const passages = parsed.data.results.filter((r) => r.content.trim() !== '').slice(0, 3);
  if (passages.length === 0) return 'The knowledge base has nothing that matches your question.';
  const quoted = passages.map(
    (r) =>
      `> ${truncate(r.content.replace(/\s+/g, ' ').trim(), passageLength)}\n— ${r.title?.trim() || r.documentId || 'untitled document'}`,
  );
  return `From your knowledge base:\n\n${quoted.join('\n\n')}`;
}

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function compact(value: unknown): string {
  return truncate(typeof value === 'string' ? value : (JSON.stringify(value) ?? 'nothing'), summaryLength);
}

function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  const cut = value.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `${space > max * 0.6 ? cut.slice(0, space) : cut}…`;
}
