import type { ModelMessage } from 'ai';
import type { Selectable } from 'kysely';
import type { MessagesTable } from '../database/index.ts';

type MessageRow = Selectable<MessagesTable>;

/** A tool call as an assistant message records it. */
export interface RecordedToolCall {
  callId: string;
  tool: string;
  input: unknown;
}

/**
 * A conversation's stored messages as the model reads them. Tool results travel as tool-result
 * parts, apart from the instructions: they are data the model reads, never text spliced into its
 * prompt.
 */
export function toModelMessages(rows: readonly MessageRow[]): ModelMessage[] {
  const messages: ModelMessage[] = [];
  for (const row of rows) {
    if (row.role === 'user') messages.push({ role: 'user', content: row.content });
    else if (row.role === 'assistant') {
      const calls = row.tool_calls as unknown as RecordedToolCall[];
      messages.push({
        role: 'assistant',
        content: [
          ...(row.content ? [{ type: 'text' as const, text: row.content }] : []),
          ...calls.map((call) => ({ type: 'tool-call' as const, toolCallId: call.callId, toolName: call.tool, input: call.input })),
        ],
      });
    } else {
      messages.push({
        role: 'tool',
        content: [
          {
            type: 'tool-result',
            toolCallId: row.tool_call_id ?? '',
            toolName: row.tool_name ?? '',
            output: row.is_error ? { type: 'error-json', value: row.tool_result as never } : { type: 'json', value: row.tool_result as never },
          },
        ],
      });
    }
  }
  return messages;
}
