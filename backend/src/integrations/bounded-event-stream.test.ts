import { describe, expect, it } from 'vitest';
import { boundedEventStream, type EventStreamLimits } from './bounded-event-stream.ts';

const limits: EventStreamLimits = { maxEventBytes: 100, maxEventsPerWindow: 5, maxBytesPerWindow: 1000, windowMs: 60_000 };

/** Streams `chunks` through the bounds; what got through, why it was refused, and whether the source was cancelled. */
async function run(chunks: string[], bounds = limits, delayMs = 0) {
  let cancelled = false;
  const pending = [...chunks];
  const source = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const next = pending.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(new TextEncoder().encode(next));
    },
    cancel: () => void (cancelled = true),
  });
  let refusal: string | undefined;
  let text = '';
  const reader = boundedEventStream(source, bounds, (reason) => (refusal = reason)).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
  } catch {
    // the stream was errored: refusal says why
  }
  return { text, refusal, cancelled };
}

describe('an event stream within bounds', () => {
  it('passes events up to the size limit, however they are cut into chunks, and counts CR, LF and CRLF line ends', async () => {
    const event = `data: ${'x'.repeat(90)}\n\n`; // 98 bytes
    const passed = await run([event.slice(0, 50), event.slice(50), 'data: a\r\n\r\n', 'data: b\r\r', event]);
    expect(passed).toEqual({ text: `${event}data: a\r\n\r\ndata: b\r\r${event}`, refusal: undefined, cancelled: false });
  });

  it('refuses an event past the size limit, even one that never ends a line, and cancels the source', async () => {
    const refused = await run(['data: ok\n\n', `data: ${'x'.repeat(60)}`, 'x'.repeat(60)]);
    // The chunk that crosses the limit is not passed on.
    expect(refused).toEqual({
      text: `data: ok\n\ndata: ${'x'.repeat(60)}`,
      refusal: 'it sent an event larger than 100 bytes',
      cancelled: true,
    });
    const lines = await run(['data: a\ndata: b\n'.repeat(20)]); // many lines, one event: a line end alone ends nothing
    expect(lines.refusal).toMatch(/an event larger than/);
  });

  it('refuses more events, or more bytes, in a window than allowed', async () => {
    expect((await run(['data: a\n\n'.repeat(6)])).refusal).toBe('it sent more than 5 events in 60 s');
    expect((await run(['\n'.repeat(6)])).refusal).toBe('it sent more than 5 events in 60 s'); // blank lines count too
    expect(
      (
        await run(
          Array.from({ length: 11 }, () => `data: ${'x'.repeat(90)}\n\n`),
          { ...limits, maxEventsPerWindow: 100 },
        )
      ).refusal,
    ).toBe('it sent more than 1000 bytes in 60 s');
    // Each window starts afresh: the same events, spread over windows, pass.
    const spread = Array.from({ length: 10 }, () => 'data: a\n\n'.repeat(5));
    expect((await run(spread, { ...limits, windowMs: 5 }, 10)).refusal).toBeUndefined();
    expect((await run(spread, { ...limits, windowMs: 60_000 }, 1)).refusal).toBe('it sent more than 5 events in 60 s');
  });
});
