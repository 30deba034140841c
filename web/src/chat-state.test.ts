import { describe, expect, it } from 'vitest';
import type { Message } from './api-shapes.ts';
import { applyEvent, idleTurn, unrecorded, type LiveTurn } from './chat-state.ts';
import type { EventData, EventFrame } from './live.ts';

let id = 0;
/** A frame of the session `s`: the payload is the event type's, less the session id. */
const frame = <E extends EventFrame['event']>(event: E, data: Omit<EventData<E>, 'sessionId'>): EventFrame =>
  ({ type: 'event', id: ++id, topic: 'session:s', event, data: { sessionId: 's', ...data }, at: '' }) as unknown as EventFrame;
const play = (...frames: EventFrame[]): LiveTurn => frames.reduce(applyEvent, idleTurn);

describe('a turn built from its events', () => {
  it('streams text by offset, so a delta replayed after a reconnect changes nothing', () => {
    const a = frame('message.delta', { messageId: 'm', offset: 0, text: 'Hello, ' });
    const b = frame('message.delta', { messageId: 'm', offset: 7, text: 'world' });
    expect(play(a, b, b, a, b).messages.m).toBe('Hello, world');
    expect(play(a, b).running).toBe(true);
  });

  it('ignores a delta that skips ahead, and the completed message brings the whole text', () => {
    const turn = play(frame('message.delta', { messageId: 'm', offset: 5, text: 'lost' }));
    expect(turn.messages.m).toBeUndefined();
    expect(applyEvent(turn, frame('message.completed', { messageId: 'm', role: 'assistant', text: 'All of it' })).messages.m).toBe(
      'All of it',
    );
  });

  it('shows a tool call as it starts and ends, in the order things began, and how the turn ended', () => {
    const turn = play(
      frame('tool.started', { callId: 'c1', tool: 'mail__list_unread', arguments: {} }),
      frame('message.delta', { messageId: 'm', offset: 0, text: 'Two unread' }),
      frame('tool.completed', { callId: 'c1', tool: 'mail__list_unread', durationMs: 12, result: ['a'] }),
      frame('tool.failed', { callId: 'c2', tool: 'x', durationMs: 3, error: { code: 'TOOL_FAILED', message: 'no' } }),
      frame('turn.ended', { turnId: 't', status: 'failed', steps: 2, error: { code: 'MODEL_API_ERROR', message: 'down' } }),
    );
    expect(turn.order).toEqual([
      { kind: 'tool', id: 'c1' },
      { kind: 'message', id: 'm' },
      { kind: 'tool', id: 'c2' },
    ]);
    expect(turn.tools.c1).toMatchObject({ status: 'ok', durationMs: 12, result: ['a'] });
    expect(turn.tools.c2).toMatchObject({ status: 'failed', error: { message: 'no' } });
    expect(turn).toMatchObject({ running: false, ended: { status: 'failed', error: { code: 'MODEL_API_ERROR' } } });
  });

  it('keeps only what the transcript does not show yet', () => {
    const turn = play(frame('tool.started', { callId: 'c1', tool: 't' }), frame('message.delta', { messageId: 'm', offset: 0, text: 'x' }));
    const recorded = { id: 'other', toolCalls: [{ callId: 'c1', tool: 't', input: {} }] } as unknown as Message;
    expect(unrecorded(turn, [recorded])).toEqual([{ kind: 'message', id: 'm' }]);
  });
});
