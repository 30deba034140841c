import type { LanguageModelV3FunctionTool, LanguageModelV3Prompt, LanguageModelV3ToolResultPart } from '@ai-sdk/provider';
import type { RunPlan } from './run-plan.ts';
import { buildToolInput, plainInstruction } from './tool-input.ts';

/** What following a plan does next: call a tool (saying why), or answer, the plan done. */
export type StepMove = { kind: 'call'; toolName: string; input: Record<string, unknown>; text?: string } | { kind: 'done'; text: string };

const summaryChars = 1_900; // complete_session takes 2,000
const outcomeChars = 160;
const passageChars = 280;

/**
 * The offline responder's way through a template run, decided from the prompt alone: the plan's
 * steps are walked in order, and the first named tool the conversation has not called yet (counting
 * a tool named twice as two calls) is called, with an input built from its schema and the session's
 * variables. A call that failed or was refused counts as made: it is reported, and the walk goes on.
 * When every step's tools have been called, the plan's finish tool is called with a summary of what
 * they answered (the same summary is the reply's text); once it has been called, the summary is the
 * answer. A named tool that is not offered is reported and skipped.
 */
export function followRunPlan(plan: RunPlan, prompt: LanguageModelV3Prompt, tools: LanguageModelV3FunctionTool[]): StepMove {
  const { calls, results } = history(prompt);
  const request = lastRequest(prompt);
  const seen = new Map<string, number>();
  const lines: string[] = [];
  for (const [index, step] of plan.steps.entries()) {
    const instruction = plainInstruction(step.instruction);
    if (step.tools.length === 0) lines.push(`${index + 1}. ${instruction}: not done (it takes a language model).`);
    for (const named of step.tools) {
      const tool = offeredAs(named, tools);
      if (!tool) {
        lines.push(`${index + 1}. ${instruction}: ${named} is not offered in this session.`);
        continue;
      }
      const made = seen.get(tool.name) ?? 0;
      seen.set(tool.name, made + 1);
      const call = calls.filter((c) => c.toolName === tool.name)[made];
      if (!call) {
        const input = buildToolInput(tool.inputSchema, {
          instruction: step.instruction,
          variables: plan.variables,
          today: plan.today,
          timezone: plan.timezone,
          request,
          seen: answered(results),
        });
        return { kind: 'call', toolName: tool.name, input };
      }
      lines.push(`${index + 1}. ${instruction}: ${tool.name} ${outcome(results.get(call.toolCallId))}`);
    }
  }
  const summary = summarise(lines);
  const finish = calls.find((c) => c.toolName === plan.finishTool);
  if (finish) {
    const result = results.get(finish.toolCallId);
    const failed = result && result.output.type !== 'json' && result.output.type !== 'text' && result.output.type !== 'content';
    return { kind: 'done', text: failed ? `${summary}\n\nThe run could not be ended: ${plan.finishTool} ${outcome(result)}` : summary };
  }
  if (!tools.some((t) => t.name === plan.finishTool)) return { kind: 'done', text: summary };
  return { kind: 'call', toolName: plan.finishTool, input: { summary }, text: summary };
}

interface MadeCall {
  toolCallId: string;
  toolName: string;
}

function history(prompt: LanguageModelV3Prompt): { calls: MadeCall[]; results: Map<string, LanguageModelV3ToolResultPart> } {
  const calls: MadeCall[] = [];
  const results = new Map<string, LanguageModelV3ToolResultPart>();
  for (const message of prompt) {
    if (message.role === 'assistant') {
      for (const part of message.content)
        if (part.type === 'tool-call') calls.push({ toolCallId: part.toolCallId, toolName: part.toolName });
    } else if (message.role === 'tool') {
      for (const part of message.content) if (part.type === 'tool-result') results.set(part.toolCallId, part);
    }
  }
  return { calls, results };
}

/**
 * The offered tool a step's name stands for: the same name, or else the one tool offered under
 * another provider with the same tool name (a stand-in server offering a provider's tools).
 */
function offeredAs(named: string, tools: LanguageModelV3FunctionTool[]): LanguageModelV3FunctionTool | undefined {
  const exact = tools.find((t) => t.name === named);
  if (exact) return exact;
  const cut = named.indexOf('__');
  if (cut < 0) return undefined;
  const suffix = named.slice(cut);
  const same = tools.filter((t) => t.name.endsWith(suffix) && t.name.indexOf('__') === t.name.length - suffix.length);
  return same.length === 1 ? same[0] : undefined;
}

/** The user's last message, capped: what a search step looks for when no variable says. */
function lastRequest(prompt: LanguageModelV3Prompt): string | undefined {
  for (let i = prompt.length - 1; i >= 0; i--) {
    const message = prompt[i]!;
    if (message.role !== 'user') continue;
    const text = message.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n');
    return text.slice(0, 2_000);
  }
  return undefined;
}

function summarise(lines: string[]): string {
  const head = 'Worked through the steps without a language model (tools called with inputs built from their schemas):';
  const text = [head, ...lines].join('\n');
  return text.length <= summaryChars ? text : `${text.slice(0, summaryChars - 1)}…`;
}

/** The text of every answer so far (not errors or refusals), in the order they came. */
function answered(results: Map<string, LanguageModelV3ToolResultPart>): string {
  const texts: string[] = [];
  for (const { output } of results.values()) {
    if (output.type === 'content') texts.push(...output.value.flatMap((item) => (item.type === 'text' ? [item.text] : [])));
    else if (output.type === 'text') texts.push(output.value);
    else if (output.type === 'json') texts.push(JSON.stringify(output.value));
  }
  return texts.join('\n');
}

/** What a call came to, in a few words: how many items it answered, or the start of what it said. */
function outcome(result: LanguageModelV3ToolResultPart | undefined): string {
  if (!result) return 'gave no answer.';
  const output = result.output;
  if (output.type === 'execution-denied') return `was not allowed${output.reason ? `: ${short(output.reason)}` : ''}.`;
  if (output.type === 'error-text' || output.type === 'error-json') return `failed: ${short(output.value)}`;
  const value =
    output.type === 'content' ? output.value.flatMap((item) => (item.type === 'text' ? [item.text] : [])).join('\n') : output.value;
  const parsed = typeof value === 'string' ? parseJson(value) : value;
  const passage = passageOf(parsed);
  if (passage) return passage;
  const counted = countOf(parsed);
  return counted ? `answered ${counted}.` : `answered: ${short(value)}`;
}

/** "3 messages" for an answer that is one list (beside paging fields), else undefined. */
function countOf(value: unknown): string | undefined {
  if (Array.isArray(value)) return `${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value !== 'object' || value === null) return undefined;
  const entries = Object.entries(value);
  const lists = entries.filter(([, v]) => Array.isArray(v));
  const others = entries.filter(([key, v]) => !Array.isArray(v) && !/token|cursor|next|more|total|count/i.test(key));
  if (lists.length !== 1 || others.length > 0) return undefined;
  const [key, list] = lists[0] as [string, unknown[]];
  return `${list.length} ${key}`;
}

/** Passages found (`{ results: [{ content, title }] }`, as a search answers): the best one quoted, with its source. */
function passageOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { results?: unknown }).results)) return undefined;
  const results = (value as { results: unknown[] }).results.filter(
    (r): r is { content: string; title?: unknown } =>
      typeof r === 'object' && r !== null && typeof (r as { content?: unknown }).content === 'string',
  );
  if (results.length === 0) return undefined;
  const best = results[0]!;
  const title = typeof best.title === 'string' && best.title.trim() !== '' ? ` (${best.title.trim()})` : '';
  return `found ${results.length} passage${results.length === 1 ? '' : 's'}; the best${title}: "${passageText(best.content)}"`;
}

function passageText(content: string): string {
  const text = content.replace(/\s+/g, ' ').trim();
  return text.length <= passageChars ? text : `${text.slice(0, passageChars - 1)}…`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function short(value: unknown): string {
  const text = (typeof value === 'string' ? value : (JSON.stringify(value) ?? 'nothing')).replace(/\s+/g, ' ').trim();
  return text.length <= outcomeChars ? text : `${text.slice(0, outcomeChars - 1)}…`;
}
