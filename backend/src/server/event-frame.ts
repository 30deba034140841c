import type { StoredEvent } from '../events/index.ts';

/** An event as clients receive it, on every channel: WebSocket, server-sent events and history. */
export function toEventFrame(event: StoredEvent) {
  return { type: 'event' as const, id: event.id, topic: event.topic, event: event.type, data: event.data, at: event.at.toISOString() };
}

/**
 * The frame for an event, encoded once however many clients receive it: the fan-out hands the
 * same event object to every stream, so a thousand subscribers cost one serialisation.
 */
const encodedFrames = new WeakMap<StoredEvent, Buffer>();
export function encodedEventFrame(event: StoredEvent): Buffer {
  let frame = encodedFrames.get(event);
  if (!frame) {
    frame = Buffer.from(JSON.stringify(toEventFrame(event)));
    encodedFrames.set(event, frame);
  }
  return frame;
}
