import type { Message } from './api-shapes.ts';
import type { EventFrame } from './live.ts';

/*
 * A turn as it happens, built from the session's events: the assistant's text as it streams and
 * each tool call as it starts and ends. Once the turn is recorded, the transcript from the API
 * shows the same things; `unrecorded` keeps only what the transcript does not have yet, so the
 * page never shows a message or a call twice, whatever order the two arrive in.
 */

export interface LiveTool {
  callId: string;
  tool: string;
  arguments?: unknown;
  status: 'running' | 'ok' | 'failed';
  durationMs?: number;
  result?: unknown;
  error?: { code: string; message: string };
}

export interface LiveTurn {
  /** Messages and tool calls in the order they began. */
  order: Array<{ kind: 'message' | 'tool'; id: string }>;
  messages: Record<string, string>;
  tools: Record<string, LiveTool>;
  /** Whether a turn is under way (a message was sent, or its events are arriving). */
  running: boolean;
  /** How the last turn ended, when not plainly. */
  ended?: { status: string; error?: { code: string; message: string } };
}

export const idleTurn: LiveTurn = { order: [], messages: {}, tools: {}, running: false };

/** The turn after one event of the session's topic; events of other kinds leave it as it was. */
export function applyEvent(turn: LiveTurn, frame: EventFrame): LiveTurn {
  switch (frame.event) {
    case 'message.delta': {
      const { messageId: id, offset } = frame.data;
      const text = turn.messages[id] ?? '';
      // A delta past what we have means one was missed; the completed message will bring it all.
      if (offset > text.length) return turn;
      return withItem(
        { ...turn, running: true, messages: { ...turn.messages, [id]: text.slice(0, offset) + frame.data.text } },
        'message',
        id,
      );
    }
    case 'message.completed': {
      if (frame.data.role !== 'assistant') return turn;
      const id = frame.data.messageId;
      return withItem({ ...turn, messages: { ...turn.messages, [id]: frame.data.text } }, 'message', id);
    }
    case 'tool.started': {
      const { callId: id, tool: name, arguments: input } = frame.data;
      const tool: LiveTool = { callId: id, tool: name, arguments: input, status: 'running' };
      return withItem({ ...turn, running: true, tools: { ...turn.tools, [id]: tool } }, 'tool', id);
    }
    case 'tool.completed':
    case 'tool.failed': {
      const id = frame.data.callId;
      const started = turn.tools[id] ?? { callId: id, tool: frame.data.tool, status: 'running' as const };
      const finished: LiveTool = {
        ...started,
        status: frame.event === 'tool.completed' ? 'ok' : 'failed',
        durationMs: frame.data.durationMs,
        ...(frame.event === 'tool.completed' ? { result: frame.data.result } : { error: frame.data.error }),
      };
      return withItem({ ...turn, tools: { ...turn.tools, [id]: finished } }, 'tool', id);
    }
    case 'turn.ended': {
      const { status, error } = frame.data;
      const { ended: _previous, ...rest } = turn;
      return status === 'completed'
        ? { ...rest, running: false }
        : { ...rest, running: false, ended: { status, ...(error ? { error } : {}) } };
    }
    default:
      return turn;
  }
}

function withItem(turn: LiveTurn, kind: 'message' | 'tool', id: string): LiveTurn {
  return turn.order.some((item) => item.id === id) ? turn : { ...turn, order: [...turn.order, { kind, id }] };
}

/** The turn's items that the transcript does not show yet. */
export function unrecorded(turn: LiveTurn, transcript: Message[]): LiveTurn['order'] {
  const recorded = new Set<string>();
  for (const message of transcript) {
    recorded.add(message.id);
    for (const call of message.toolCalls) recorded.add(call.callId);
  }
  return turn.order.filter((item) => !recorded.has(item.id));
}
