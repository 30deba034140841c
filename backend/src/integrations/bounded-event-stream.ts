/** Bounds on a server-sent-event stream an MCP server sends us. */
export interface EventStreamLimits {
  /** Bytes one event may take, from one event boundary (a blank line) to the next. */
  maxEventBytes: number;
  /** Events (blank lines) the stream may deliver in one window. */
  maxEventsPerWindow: number;
  /** Bytes the stream may deliver in one window. */
  maxBytesPerWindow: number;
  windowMs: number;
}

const LF = 10;
const CR = 13;

/**
 * `source`, passed through while it keeps within `limits`. The MCP SDK reads an event stream
 * through a text decoder and an event parser that keep every byte of an unfinished event, and it
 * handles every event it is sent, at once: an MCP server could make us hold an event of any size,
 * or keep us busy with a flood. So the bytes are measured before they reach the parser: an event
 * larger than `maxEventBytes`, or more events or bytes in a window than allowed, errors the stream
 * and cancels the source (the connection is closed, and nothing of it stays in memory), and
 * `onRefused` hears why. The chunk that crosses a limit is not passed on.
 */
export function boundedEventStream(
  source: ReadableStream<Uint8Array>,
  limits: EventStreamLimits,
  onRefused: (reason: string) => void,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  const meter = new EventStreamMeter(limits);
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        const refusal = meter.measure(value);
        if (!refusal) return controller.enqueue(value);
        void reader.cancel(refusal).catch(() => undefined);
        onRefused(refusal);
        controller.error(new Error(refusal));
      },
      cancel: (reason) => reader.cancel(reason),
    },
    // Nothing read ahead of the parser: the source's own buffer is the only one.
    { highWaterMark: 0 },
  );
}

/** Counts an event stream's bytes per event and its events and bytes per window (linear in the bytes seen). */
class EventStreamMeter {
  private eventBytes = 0;
  /** The current line has nothing on it yet: a line end here is a blank line, which ends an event. */
  private lineEmpty = true;
  private afterCR = false;
  private window = { start: Date.now(), events: 0, bytes: 0 };

  constructor(private readonly limits: EventStreamLimits) {}

  /** Why the stream is refused after `chunk`, or undefined while it keeps within the limits. */
  measure(chunk: Uint8Array): string | undefined {
    const now = Date.now();
    if (now - this.window.start >= this.limits.windowMs) this.window = { start: now, events: 0, bytes: 0 };
    this.window.bytes += chunk.byteLength;
    if (this.window.bytes > this.limits.maxBytesPerWindow)
      return `it sent more than ${mib(this.limits.maxBytesPerWindow)} in ${this.limits.windowMs / 1000} s`;
    for (let i = 0; i < chunk.byteLength; i++) {
      const byte = chunk[i]!;
      this.eventBytes += 1;
      if (this.eventBytes > this.limits.maxEventBytes) return `it sent an event larger than ${mib(this.limits.maxEventBytes)}`;
      // A line ends at CR, LF or CRLF; the LF of a CRLF ends nothing more.
      if (byte === LF && this.afterCR) {
        this.afterCR = false;
        continue;
      }
      this.afterCR = byte === CR;
      if (byte !== LF && byte !== CR) {
        this.lineEmpty = false;
        continue;
      }
      if (this.lineEmpty) {
        this.eventBytes = 0;
        this.window.events += 1;
        if (this.window.events > this.limits.maxEventsPerWindow)
          return `it sent more than ${this.limits.maxEventsPerWindow} events in ${this.limits.windowMs / 1000} s`;
      }
      this.lineEmpty = true;
    }
    return undefined;
  }
}

function mib(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB`;
  return bytes >= 1024 ? `${Math.round(bytes / 1024)} KB` : `${bytes} bytes`;
}
