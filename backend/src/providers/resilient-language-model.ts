import type {
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3GenerateResult,
  LanguageModelV3StreamPart,
  LanguageModelV3StreamResult,
} from '@ai-sdk/provider';
import { APICallError } from 'ai';
import { AppError } from '../errors.ts';
import { retryAfterMs, withRetries, type RetryPolicy } from './retry.ts';

export interface ModelCallPolicy {
  /**
   * How long a call may wait on the server without receiving anything: for the response to start,
   * then between streamed chunks (a non-streaming call: for the whole answer).
   */
  timeoutMs: number;
  /** Attempts of a call that fails before any output, the first included. */
  retry: RetryPolicy;
}

/**
 * A remote model with the guarantees the agent loop relies on, whatever the vendor:
 *  - A call that fails before any output with 429, 408, 409, 5xx or a failed connection is tried
 *    again with backoff, believing `Retry-After`. Output already streamed is never repeated, so an
 *    answer that breaks off mid-way is not retried: the caller sees the error and decides.
 *  - A server that goes quiet for `timeoutMs` is cut off with `MODEL_TIMEOUT` (a stall is not
 *    retried: it would multiply the wait).
 *  - Every other failure is `MODEL_API_ERROR`, naming the model and the HTTP status; an error the
 *    server reports inside the stream ends the stream with it, so a broken answer never passes for
 *    a finished one. These are not `APICallError`s, so the AI SDK's own retries leave them alone.
 *  - The caller's abort signal stops the call and is surfaced unchanged.
 * `provider:modelId` of the wrapper is the id it was resolved by (e.g. `ollama:llama3.1:8b`).
 */
export class ResilientLanguageModel implements LanguageModelV3 {
  readonly specificationVersion = 'v3';
  readonly provider: string;
  readonly modelId: string;

  constructor(
    private readonly inner: LanguageModelV3,
    id: { provider: string; model: string },
    private readonly policy: ModelCallPolicy,
  ) {
    this.provider = id.provider;
    this.modelId = id.model;
  }

  get supportedUrls(): LanguageModelV3['supportedUrls'] {
    return this.inner.supportedUrls;
  }

  private get id(): string {
    return `${this.provider}:${this.modelId}`;
  }

  async doGenerate(options: LanguageModelV3CallOptions): Promise<LanguageModelV3GenerateResult> {
    return this.withPolicy(options, async (guard) => {
      try {
        return await guard.watch(this.inner.doGenerate({ ...options, abortSignal: guard.signal }));
      } finally {
        guard.dispose();
      }
    });
  }

  async doStream(options: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> {
    return this.withPolicy(options, async (guard) => {
      try {
        const result = await guard.watch(this.inner.doStream({ ...options, abortSignal: guard.signal }));
        return { ...result, stream: this.guardStream(result.stream, guard, options.abortSignal) };
      } catch (error) {
        guard.dispose();
        throw error;
      }
    });
  }

  private async withPolicy<T>(options: LanguageModelV3CallOptions, run: (guard: StallGuard) => Promise<T>): Promise<T> {
    const caller = options.abortSignal;
    try {
      return await withRetries(
        this.policy.retry,
        () => run(new StallGuard(this.id, this.policy.timeoutMs, caller)),
        (error) => {
          if (!APICallError.isInstance(error) || !error.isRetryable) return { retry: false };
          const afterMs = retryAfterMs(error.responseHeaders);
          return { retry: true, ...(afterMs !== undefined ? { afterMs } : {}) };
        },
        caller ? { signal: caller } : {},
      );
    } catch (error) {
      throw caller?.aborted ? error : this.explain(error, 'failed');
    }
  }

  private guardStream(
    inner: ReadableStream<LanguageModelV3StreamPart>,
    guard: StallGuard,
    caller: AbortSignal | undefined,
  ): ReadableStream<LanguageModelV3StreamPart> {
    const reader = inner.getReader();
    const stop = (error: unknown) => {
      guard.dispose();
      reader.cancel(error).catch(() => undefined);
      return caller?.aborted ? caller.reason : this.explain(error, 'broke off mid-answer');
    };
    return new ReadableStream<LanguageModelV3StreamPart>({
      pull: async (controller) => {
        try {
          const { done, value } = await guard.watch(reader.read());
          if (done) {
            guard.dispose();
            controller.close();
          } else if (value.type === 'error') {
            controller.error(stop(value.error));
          } else {
            controller.enqueue(value);
          }
        } catch (error) {
          controller.error(stop(error));
        }
      },
      cancel: (reason) => {
        guard.dispose();
        return reader.cancel(reason);
      },
    });
  }

  private explain(error: unknown, what: string): AppError {
    if (error instanceof AppError) return error;
    // A stream that breaks after a 200 is not an HTTP failure: only an error status is named.
    const status = APICallError.isInstance(error) && (error.statusCode ?? 0) >= 300 ? error.statusCode : undefined;
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
    // Errors the server reports inside a stream arrive as plain `{message, type}` objects.
    const text =
      error instanceof Error
        ? error.message
        : typeof error === 'object' && error !== null && 'message' in error
          ? String(error.message)
          : String(error);
    const message = `${text}${cause}`;
    return new AppError('MODEL_API_ERROR', `The model ${this.id} ${what}${status ? ` with HTTP ${status}` : ''}: ${message}`, {
      details: { model: this.id, ...(status ? { status } : {}) },
      cause: error,
    });
  }
}

/**
 * One attempt's abort controller: aborted by the caller, or by a stall of `timeoutMs` while a
 * watched promise is pending (time the consumer spends between reads does not count).
 */
class StallGuard {
  private readonly controller = new AbortController();
  private readonly stopped: Promise<never>;
  private rejectStopped: (reason: unknown) => void = () => undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly id: string,
    private readonly timeoutMs: number,
    private readonly caller: AbortSignal | undefined,
  ) {
    this.stopped = new Promise<never>((_, reject) => (this.rejectStopped = reject));
    this.stopped.catch(() => undefined);
    if (caller?.aborted) this.stop(caller.reason);
    caller?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The work's outcome, or the stall error if nothing arrives in time, or the caller's abort. */
  async watch<T>(work: PromiseLike<T>): Promise<T> {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.stop(
        new AppError(
          'MODEL_TIMEOUT',
          `The model ${this.id} sent nothing for ${this.timeoutMs} ms (MODEL_TIMEOUT_MS), so the call was stopped.`,
          {
            details: {
              model: this.id,
              timeoutMs: this.timeoutMs,
            },
          },
        ),
      );
    }, this.timeoutMs);
    try {
      return await Promise.race([work, this.stopped]);
    } finally {
      clearTimeout(this.timer);
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.onCallerAbort);
  }

  private readonly onCallerAbort = () => this.stop(this.caller?.reason);

  private stop(reason: unknown): void {
    this.rejectStopped(reason);
    this.controller.abort(reason);
  }
}
