import { createHash } from 'node:crypto';
import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3Content,
  LanguageModelV3FinishReason,
  LanguageModelV3FunctionTool,
  LanguageModelV3GenerateResult,
  LanguageModelV3StreamPart,
  LanguageModelV3StreamResult,
  LanguageModelV3Usage,
} from '@ai-sdk/provider';
import { offlineReply, type OfflineReply } from './offline-reply.ts';
import { promptTokenCount, tokenCount } from './token-count.ts';

/** Text is streamed in pieces of about this many characters, cut between words. */
const deltaLength = 20;

/**
 * `local:offline`: the model of an installation with no language model configured. It is not a
 * language model and every text reply says so; it follows a few fixed rules (see offline-reply.ts)
 * so that sessions, tools and the knowledge base can be exercised end to end without a network.
 * Deterministic: the same prompt and tools give the same parts, ids and usage. Usage is counted
 * with cl100k_base.
 */
export class OfflineLanguageModel implements LanguageModelV3 {
  readonly specificationVersion = 'v3';
  readonly provider = 'local';
  readonly modelId = 'offline';
  readonly supportedUrls = {};

  async doGenerate(options: LanguageModelV3CallOptions): Promise<LanguageModelV3GenerateResult> {
    options.abortSignal?.throwIfAborted();
    const turn = answer(options);
    const { reply } = turn;
    const content: LanguageModelV3Content[] = reply.text ? [{ type: 'text', text: reply.text }] : [];
    if (reply.kind === 'tool-call')
      content.push({ type: 'tool-call', toolCallId: turn.toolCallId, toolName: reply.toolName, input: turn.input });
    return { content, finishReason: turn.finishReason, usage: turn.usage, warnings: [] };
  }

  async doStream(options: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> {
    const signal = options.abortSignal;
    signal?.throwIfAborted();
    const parts = streamParts(answer(options));
    let next = 0;
    // Nothing is queued ahead of the reader (high-water mark 0), so an abort stops the very next part.
    const stream = new ReadableStream<LanguageModelV3StreamPart>(
      {
        pull(controller) {
          if (signal?.aborted) return controller.error(signal.reason);
          const part = parts[next++];
          if (part) controller.enqueue(part);
          if (next >= parts.length) controller.close();
        },
      },
      { highWaterMark: 0 },
    );
    return { stream };
  }
}

interface Turn {
  reply: OfflineReply;
  /** The tool call's input as JSON text, as the spec carries it. */
  input: string;
  toolCallId: string;
  finishReason: LanguageModelV3FinishReason;
  usage: LanguageModelV3Usage;
}

function answer(options: LanguageModelV3CallOptions): Turn {
  const reply = offlineReply(options.prompt, offeredTools(options));
  const input = reply.kind === 'tool-call' ? JSON.stringify(reply.input) : '';
  const output = tokenCount(reply.kind === 'text' ? reply.text : `${reply.text ?? ''}${reply.toolName}${input}`);
  const inputTokens = promptTokenCount(options.prompt);
  return {
    reply,
    input,
    toolCallId: toolCallId(options, 0),
    finishReason: reply.kind === 'text' ? { unified: 'stop', raw: 'stop' } : { unified: 'tool-calls', raw: 'tool_calls' },
    usage: {
      inputTokens: { total: inputTokens, noCache: inputTokens, cacheRead: 0, cacheWrite: 0 },
      outputTokens: { total: output, text: output, reasoning: 0 },
    },
  };
}

/** Derived from the whole prompt, so a replayed prompt gets the same id and every new turn a new one. */
function toolCallId(options: LanguageModelV3CallOptions, index: number): string {
  return `call_${createHash('sha256').update(JSON.stringify(options.prompt)).update(`\0${index}`).digest('hex').slice(0, 24)}`;
}

/** Function tools the call lets the model use: none for `toolChoice: none`, one for a named choice. */
function offeredTools(options: LanguageModelV3CallOptions): LanguageModelV3FunctionTool[] {
  const tools = (options.tools ?? []).filter((tool): tool is LanguageModelV3FunctionTool => tool.type === 'function');
  const choice = options.toolChoice;
  if (choice?.type === 'none') return [];
  if (choice?.type === 'tool') return tools.filter((tool) => tool.name === choice.toolName);
  return tools;
}

function streamParts(turn: Turn): LanguageModelV3StreamPart[] {
  const parts: LanguageModelV3StreamPart[] = [{ type: 'stream-start', warnings: [] }];
  if (turn.reply.text) {
    parts.push({ type: 'text-start', id: 'text-0' });
    for (const delta of textDeltas(turn.reply.text)) parts.push({ type: 'text-delta', id: 'text-0', delta });
    parts.push({ type: 'text-end', id: 'text-0' });
  }
  if (turn.reply.kind === 'tool-call') {
    const id = turn.toolCallId;
    parts.push(
      { type: 'tool-input-start', id, toolName: turn.reply.toolName },
      { type: 'tool-input-delta', id, delta: turn.input },
      { type: 'tool-input-end', id },
      { type: 'tool-call', toolCallId: id, toolName: turn.reply.toolName, input: turn.input },
    );
  }
  parts.push({ type: 'finish', finishReason: turn.finishReason, usage: turn.usage });
  return parts;
}

/** Pieces of about `deltaLength` characters, each ending after a word, that join to the text. */
export function textDeltas(text: string): string[] {
  const deltas: string[] = [];
  let current = '';
  for (const word of text.match(/\S+\s*|\s+/g) ?? []) {
    if (current.length > 0 && current.length + word.length > deltaLength) {
      deltas.push(current);
      current = '';
    }
    current += word;
  }
  if (current.length > 0) deltas.push(current);
  return deltas;
}
