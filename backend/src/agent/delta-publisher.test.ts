import { describe, expect, it } from 'vitest';
import { DeltaCoalescer } from './delta-publisher.ts';

/** A coalescer on a hand-moved clock, recording every delta it sends. */
function coalescer(
  options: {
    intervalMs?: number;
    maxChars?: number;
    firstWordsAfterMs?: number;
    send?: (offset: number, text: string) => Promise<void>;
  } = {},
) {
  const clock = { now: 1_000 };
  const sent: Array<{ offset: number; text: string }> = [];
  const send =
    options.send ??
    (async (offset: number, text: string) => {
      sent.push({ offset, text });
    });
  const deltas = new DeltaCoalescer(send, {
    intervalMs: options.intervalMs ?? 100,
    maxChars: options.maxChars ?? 400,
    now: () => clock.now,
  });
  // A model's first words usually come after the first window: then they go out at once.
  clock.now += options.firstWordsAfterMs ?? 100;
  return { deltas, sent, clock };
}

/** Lets every send already started finish, without draining. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

/** What a resuming client rebuilds from the deltas it stored: each text placed at its offset. */
const rebuild = (sent: ReadonlyArray<{ offset: number; text: string }>) =>
  sent.reduce((text, delta) => text.slice(0, delta.offset) + delta.text, '');

describe('DeltaCoalescer', () => {
  it('merges the chunks that arrive within a window into one delta', async () => {
    const { deltas, sent, clock } = coalescer();
    deltas.push('Hel'); // the first chunk goes at once: nothing was sent for longer than the window
    clock.now += 10;
    deltas.push('lo, ');
    clock.now += 10;
    deltas.push('wor');
    await settled();
    expect(sent).toEqual([{ offset: 0, text: 'Hel' }]);
    clock.now += 100;
    deltas.push('ld');
    await deltas.drain();
    expect(sent).toEqual([
      { offset: 0, text: 'Hel' },
      { offset: 3, text: 'lo, world' },
    ]);
  });

  it('sends before the window ends once maxChars are waiting', async () => {
    const { deltas, sent, clock } = coalescer({ maxChars: 5 });
    deltas.push('a');
    clock.now += 1;
    deltas.push('bcd');
    clock.now += 1;
    deltas.push('efgh');
    clock.now += 1;
    deltas.push('i');
    await settled();
    expect(sent).toEqual([
      { offset: 0, text: 'a' },
      { offset: 1, text: 'bcdefgh' },
    ]);
    await deltas.drain();
    expect(sent.at(-1)).toEqual({ offset: 8, text: 'i' });
  });

  it('sends what is still waiting on drain: the last words of a reply are never lost', async () => {
    const { deltas, sent, clock } = coalescer();
    deltas.push('The answer');
    clock.now += 5;
    deltas.push(' is 42.');
    await settled();
    expect(rebuild(sent)).toBe('The answer');
    await deltas.drain();
    expect(rebuild(sent)).toBe('The answer is 42.');
    expect(sent.at(-1)).toEqual({ offset: 10, text: ' is 42.' });
  });

  it('sends in order with exact offsets, so the text rebuilds exactly, however slow each send is', async () => {
    const sent: Array<{ offset: number; text: string }> = [];
    let delay = 30;
    const { deltas, clock } = coalescer({
      maxChars: 7,
      // Earlier sends take longer: a send that started later must still be stored after them.
      send: async (offset, text) => {
        await new Promise((resolve) => setTimeout(resolve, (delay = Math.max(delay - 10, 0))));
        sent.push({ offset, text });
      },
    });
    const chunks = ['Once ', 'upon ', 'a ', 'time, ', 'there ', 'was ', 'a ', 'stream.'];
    for (const chunk of chunks) {
      deltas.push(chunk);
      clock.now += 40;
    }
    await deltas.drain();
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.map((d) => d.offset)).toEqual([...sent.map((d) => d.offset)].sort((a, b) => a - b));
    expect(rebuild(sent)).toBe(chunks.join(''));
    expect(sent.map((d) => d.text).join('')).toBe(chunks.join(''));
  });

  it('hands back the text still waiting instead of sending it, at its offset, once the earlier deltas are stored', async () => {
    const { deltas, sent, clock } = coalescer();
    deltas.push('The answer');
    clock.now += 5;
    deltas.push(' is 42.');
    const rest = await deltas.rest();
    expect(sent).toEqual([{ offset: 0, text: 'The answer' }]);
    expect(rest).toEqual({ offset: 10, text: ' is 42.' });
    expect(rebuild([...sent, rest!])).toBe('The answer is 42.');
    // Taken: draining sends nothing more, and nothing is left.
    await deltas.drain();
    expect(sent).toHaveLength(1);
    expect(await deltas.rest()).toBeUndefined();
  });

  it('sends no delta for a reply streamed whole within the first window: it all goes with the answer', async () => {
    const { deltas, sent, clock } = coalescer({ firstWordsAfterMs: 5 });
    deltas.push('Quick ');
    clock.now += 5;
    deltas.push('answer.');
    await settled();
    expect(sent).toEqual([]);
    expect(await deltas.rest()).toEqual({ offset: 0, text: 'Quick answer.' });
  });

  it('sends what waits once the window ends, even when the model pauses after it', async () => {
    const sent: Array<{ offset: number; text: string }> = [];
    const deltas = new DeltaCoalescer(async (offset, text) => void sent.push({ offset, text }), { intervalMs: 30, maxChars: 400 });
    deltas.push('Let me think');
    expect(sent).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(sent).toEqual([{ offset: 0, text: 'Let me think' }]);
    await deltas.drain();
  });

  it('drain resolves at once with nothing to send, and sends no empty delta', async () => {
    const { deltas, sent } = coalescer();
    await deltas.drain();
    expect(sent).toEqual([]);
  });

  it('reports the first failed send on drain, and sends nothing after the gap', async () => {
    const sent: string[] = [];
    const { deltas, clock } = coalescer({
      send: async (_offset, text) => {
        if (text === 'two') throw new Error('store down');
        sent.push(text);
      },
    });
    for (const text of ['one', 'two', 'three']) {
      deltas.push(text);
      clock.now += 100;
    }
    await expect(deltas.drain()).rejects.toThrow('store down');
    expect(sent).toEqual(['one']);
  });
});
