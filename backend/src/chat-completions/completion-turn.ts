import type { TurnOutcome } from '../agent/index.ts';
import { AppError } from '../errors.ts';
import { turnError, type FollowedEnd, type TurnFollower } from './turn-follower.ts';

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export type FinishReason = 'stop' | 'length';

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{ index: 0; message: { role: 'assistant'; content: string; refusal: null }; finish_reason: FinishReason; logprobs: null }>;
  usage: CompletionUsage;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{ index: 0; delta: { role?: 'assistant'; content?: string }; finish_reason: FinishReason | null; logprobs: null }>;
  usage?: CompletionUsage | null;
}

export interface CompletionTurnDeps {
  follower: TurnFollower;
  sessionId: string;
  turnId: string;
  /** The client's own `model` value, echoed as OpenAI does. */
  model: string;
  /** Settles when this instance's execution of the turn ends (`running`: it let the turn go to another instance). */
  done: Promise<TurnOutcome>;
  /** The turn's recorded text and the tokens its model calls used, read once it has ended. */
  answer: () => Promise<{ text: string; usage: { inputTokens: number; outputTokens: number } }>;
}

/**
 * One chat completion: a turn that has started, seen as OpenAI's `chat.completion` (`result`) or
 * as `chat.completion.chunk`s (`chunks`). The turn is durable and goes on whatever happens here:
 * a client that leaves (`close`) or a wait that runs out only stops the following.
 */
export class CompletionTurn {
  readonly id: string;
  readonly sessionId: string;
  readonly turnId: string;
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(private readonly deps: CompletionTurnDeps) {
    this.id = `chatcmpl-${deps.turnId}`;
    this.sessionId = deps.sessionId;
    this.turnId = deps.turnId;
  }

  /**
   * Waits for the turn's end: its answer as recorded, or the AppError it ended with (TURN_TIMEOUT
   * past the wait). The execution here usually ends it, so its outcome answers at once; a turn it
   * let go is followed to its end on the bus.
   */
  async result(): Promise<ChatCompletion> {
    let finish: FinishReason;
    try {
      const first = await Promise.race([this.deps.done.then((outcome) => ({ outcome })), this.deps.follower.end.then((end) => ({ end }))]);
      finish =
        'outcome' in first && first.outcome.status !== 'running' ? finishOf(first.outcome) : this.finishOf(await this.deps.follower.end);
    } finally {
      this.deps.follower.close(); // answered: nothing more to hear
    }
    const { text, usage } = await this.deps.answer();
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.deps.model,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, finish_reason: finish, logprobs: null }],
      usage: toUsage(usage),
    };
  }

  /**
   * The answer as chunks: the role first, the text as the turn streams it, a last chunk with the
   * finish reason, and (when asked) one with the usage. Throws the turn's AppError if it fails;
   * ends quietly once `close` is called.
   */
  async *chunks(options: { includeUsage: boolean }): AsyncGenerator<ChatCompletionChunk> {
    const { follower } = this.deps;
    const pieces: string[] = [];
    let ended = false;
    let wake: (() => void) | undefined;
    follower.onText((text) => {
      pieces.push(text);
      wake?.();
    });
    void follower.end.then(() => {
      ended = true;
      wake?.();
    });
    yield this.chunk({ role: 'assistant', content: '' }, null);
    for (;;) {
      while (pieces.length) yield this.chunk({ content: pieces.shift()! }, null);
      if (ended) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    const end = await follower.end;
    if (end.kind === 'closed') return;
    yield this.chunk({}, this.finishOf(end));
    if (options.includeUsage) yield { ...this.chunk({}, null), choices: [], usage: toUsage((await this.deps.answer()).usage) };
  }

  /** Stops following: the client went away. */
  close(): void {
    this.deps.follower.close();
  }

  private finishOf(end: FollowedEnd): FinishReason {
    if (end.kind === 'error') throw end.error;
    if (end.kind === 'timeout')
      throw new AppError(
        'TURN_TIMEOUT',
        `The turn did not end within the time this request waits; it goes on in session ${this.sessionId}, where its answer will be.`,
        { details: { sessionId: this.sessionId, turnId: this.turnId } },
      );
    if (end.kind === 'closed') throw new AppError('INTERNAL', 'The completion was closed before its turn ended.');
    return end.status === 'step_limit' ? 'length' : 'stop';
  }

  private chunk(delta: ChatCompletionChunk['choices'][0]['delta'], finish: FinishReason | null): ChatCompletionChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.deps.model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    };
  }
}

function finishOf(outcome: TurnOutcome): FinishReason {
  if (outcome.status === 'failed') throw turnError(outcome.error);
  if (outcome.status === 'suspended') throw new AppError('TOOL_OUTCOME_UNKNOWN');
  if (outcome.status === 'awaiting_approval') throw new AppError('APPROVAL_PENDING');
  return outcome.status === 'step_limit' ? 'length' : 'stop';
}

function toUsage(usage: { inputTokens: number; outputTokens: number }): CompletionUsage {
  return { prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens };
}
