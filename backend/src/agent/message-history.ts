import type { ModelMessage } from 'ai';
import { errorCodes, type ReportedError } from '../errors.ts';
import type { MessageRow } from '../sessions/index.ts';

/**
 * A conversation's stored messages as the model reads them. Tool results travel as tool-result
 * parts, apart from the instructions: they are data the model reads, never text spliced into its
 * prompt. A call whose result was never recorded (its turn was cancelled, or failed, between the
 * call and its result) is answered with an error saying so: a model must see an answer to every
 * call it made.
 */
export function toModelMessages(rows: readonly MessageRow[]): ModelMessage[] {
  const answered = new Set(rows.filter((row) => row.role === 'tool').map((row) => `${row.turn_id}:${row.step}:${row.tool_call_id}`));
  const messages: ModelMessage[] = [];
  for (const row of rows) {
    // A summary reaches the model in the system text (see ContextFitter), never as a message.
    if (row.role === 'summary') continue;
    if (row.role === 'user') messages.push({ role: 'user', content: row.content });
    else if (row.role === 'assistant') {
      const calls = row.tool_calls;
      messages.push({
        role: 'assistant',
        content: [
          ...(row.content ? [{ type: 'text' as const, text: row.content }] : []),
          ...calls.map((call) => ({ type: 'tool-call' as const, toolCallId: call.callId, toolName: call.tool, input: call.input })),
        ],
      });
      const unanswered = calls.filter((call) => !answered.has(`${row.turn_id}:${row.step}:${call.callId}`));
      if (unanswered.length > 0) {
        messages.push({
          role: 'tool',
          content: unanswered.map((call) => ({
            type: 'tool-result' as const,
            toolCallId: call.callId,
            toolName: call.tool,
            output: {
              type: 'error-json' as const,
              value: { code: 'TOOL_NOT_RUN', message: errorCodes.TOOL_NOT_RUN.message } satisfies ReportedError,
            },
          })),
        });
      }
    } else {
      messages.push({
        role: 'tool',
        content: [
          {
            type: 'tool-result',
            toolCallId: row.tool_call_id ?? '',
            toolName: row.tool_name ?? '',
            output: row.is_error ? { type: 'error-json', value: row.tool_result } : { type: 'json', value: row.tool_result },
          },
        ],
      });
    }
  }
  return messages;
}
