import { useMemo } from 'preact/hooks';
import type { Message } from '../api-shapes.ts';
import { unrecorded, type LiveTurn } from '../chat-state.ts';
import { formatCost, formatNumber } from '../format.ts';
import { renderMarkdown } from '../markdown.ts';
import { ToolCall } from './tool-call.tsx';
import { TurnTimeline } from './turn-timeline.tsx';

/** Markdown from the model, sanitised. */
function Markdown({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  return <div class="markdown" dangerouslySetInnerHTML={{ __html: html }} />;
}

function Usage({ message }: { message: Message }) {
  const { inputTokens, outputTokens } = message.usage;
  if (inputTokens + outputTokens === 0) return null;
  return (
    <p class="usage muted">
      {formatNumber(inputTokens)} tokens in · {formatNumber(outputTokens)} out ·{' '}
      {formatCost(message.costUsd, { estimated: message.costEstimated })}
    </p>
  );
}

/**
 * The conversation: what is recorded (from the API), then what is happening now (from the
 * session's events). User text is shown as typed; the assistant's is sanitised markdown.
 */
export function ChatTranscript({ messages, turn }: { messages: Message[]; turn: LiveTurn }) {
  const results = useMemo(() => new Map(messages.filter((m) => m.role === 'tool').map((m) => [m.toolCallId, m])), [messages]);
  const live = unrecorded(turn, messages);
  // A turn's timeline goes under its last recorded answer.
  const lastOfTurn = useMemo(
    () => new Set(new Map(messages.filter((m) => m.role === 'assistant').map((m) => [m.turnId, m.id])).values()),
    [messages],
  );
  return (
    <ol class="transcript" aria-label="Messages">
      {messages.map((message) => {
        if (message.role === 'tool') return null;
        if (message.role === 'summary') {
          return (
            <li key={message.id} class="message message-summary">
              <details>
                <summary>Earlier messages, summarised to fit the model's context window</summary>
                <Markdown text={message.content} />
              </details>
            </li>
          );
        }
        if (message.role === 'user') {
          return (
            <li key={message.id} class="message message-user">
              <span class="visually-hidden">You: </span>
              <p class="user-text">{message.content}</p>
            </li>
          );
        }
        return (
          <li key={message.id} class="message message-assistant">
            <span class="visually-hidden">Agent: </span>
            {message.content && <Markdown text={message.content} />}
            {message.toolCalls.map((call) => {
              const result = results.get(call.callId);
              // A call recorded before its result: the session's events say how it is going.
              const view = result
                ? {
                    tool: call.tool,
                    arguments: call.input,
                    status: result.isError ? ('failed' as const) : ('ok' as const),
                    durationMs: result.latencyMs,
                    result: result.toolResult,
                  }
                : (turn.tools[call.callId] ?? { tool: call.tool, arguments: call.input, status: 'running' as const });
              return <ToolCall key={call.callId} call={view} />;
            })}
            <Usage message={message} />
            {lastOfTurn.has(message.id) && <TurnTimeline turnId={message.turnId} />}
          </li>
        );
      })}
      {live.map((item) =>
        item.kind === 'message' ? (
          <li key={item.id} class="message message-assistant" data-streaming="true">
            <span class="visually-hidden">Agent: </span>
            <Markdown text={turn.messages[item.id] ?? ''} />
          </li>
        ) : (
          <li key={item.id} class="message message-tool">
            <ToolCall call={turn.tools[item.id]!} />
          </li>
        ),
      )}
    </ol>
  );
}
