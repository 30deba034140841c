import type { LanguageModelV3Prompt } from '@ai-sdk/provider';
import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';

/*
 * Token counts for models that do not report their own usage (the local ones). cl100k_base is
 * the encoding the knowledge chunker uses too, so a count here means the same as a chunk size
 * there; it is close to, not exactly, what another vendor's tokenizer would count.
 */

/** Tokens of a text in cl100k_base. */
export function tokenCount(text: string): number {
  return text.length === 0 ? 0 : countTokens(text);
}

/**
 * The prompt as the text a model reads: system text, message text, tool calls and tool results
 * (as JSON). Files count only by name: their bytes are not text.
 */
export function promptText(prompt: LanguageModelV3Prompt): string {
  const pieces: string[] = [];
  for (const message of prompt) {
    if (message.role === 'system') {
      pieces.push(message.content);
      continue;
    }
    for (const part of message.content) {
      if (part.type === 'text' || part.type === 'reasoning') pieces.push(part.text);
      else if (part.type === 'file') pieces.push(part.filename ?? '');
      else if (part.type === 'tool-call') pieces.push(part.toolName, JSON.stringify(part.input) ?? '');
      else if (part.type === 'tool-result') pieces.push(part.toolName, JSON.stringify(part.output) ?? '');
    }
  }
  return pieces.join('\n');
}

/** Input tokens of a prompt, counted as `promptText` shows it. */
export function promptTokenCount(prompt: LanguageModelV3Prompt): number {
  return tokenCount(promptText(prompt));
}

/** What framing a message adds in a chat prompt (its role and separators), in tokens, generously. */
export const messageOverheadTokens = 4;

/**
 * Tokens a message of a conversation takes in a model's prompt, counted once, when it is written:
 * its text, the tool calls it asks for (name and JSON arguments), or the tool result it carries
 * (name and JSON), as the providers send them, plus its framing. Stored with the message, so
 * fitting a history to a context window adds numbers rather than tokenising it again.
 */
export function messageTokenCount(message: {
  text?: string | undefined;
  calls?: ReadonlyArray<{ tool: string; input: unknown }> | undefined;
  toolName?: string | null | undefined;
  result?: unknown;
}): number {
  const pieces = [message.text ?? ''];
  for (const call of message.calls ?? []) pieces.push(call.tool, JSON.stringify(call.input) ?? '');
  if (message.toolName) pieces.push(message.toolName, JSON.stringify(message.result ?? null));
  return tokenCount(pieces.join('\n')) + messageOverheadTokens;
}
