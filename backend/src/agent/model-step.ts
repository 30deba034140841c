import { randomUUID } from 'node:crypto';
import { jsonSchema, streamText, tool, type ToolSet } from 'ai';
import type { AgentryEvent } from '../events/index.ts';
import type { StepTrace } from '../observability/index.ts';
import { redactArguments } from '../redaction/index.ts';
import type { LanguageModels, ModelPrices } from '../providers/index.ts';
import type { ModelAnswer, ModelUsage, RecordedToolCall, SessionRow, UnrecordedModelCall } from '../sessions/index.ts';
import type { ToolDefinition } from '../tools/index.ts';
import { DeltaCoalescer } from './delta-publisher.ts';
import type { FittedPrompt } from './context-fitter.ts';

/**
 * A model call that did not end in a recorded step (it failed, was cancelled, or its answer could
 * not be recorded), with the text it had streamed and, if it answered, what it used: the turn's
 * end records it, so what it cost is never lost.
 */
export class InterruptedModelCall extends Error implements UnrecordedModelCall {
  override readonly name = 'InterruptedModelCall';
  readonly step: number;
  readonly messageId: string;
  readonly text: string;
  readonly latencyMs: number;
  readonly usage: ModelUsage;
  readonly cost: number | null;
  readonly costEstimated: boolean;

  constructor(
    cause: unknown,
    call: {
      step: number;
      messageId: string;
      text: string;
      latencyMs: number;
      usage?: ModelUsage | undefined;
      cost?: number | null | undefined;
      costEstimated?: boolean | undefined;
    },
  ) {
    super('The model call did not finish.', { cause });
    this.step = call.step;
    this.messageId = call.messageId;
    this.text = call.text;
    this.latencyMs = call.latencyMs;
    this.usage = call.usage ?? { inputTokens: 0, outputTokens: 0 };
    this.cost = call.cost ?? null;
    this.costEstimated = call.costEstimated ?? false;
  }
}

export interface ModelStepOptions {
  session: SessionRow;
  model: ReturnType<LanguageModels['resolve']>;
  /** Prices the call by the session's model; one with no price is counted at the default, estimated. */
  prices: ModelPrices;
  /** The system text and the conversation so far, fitted to the model's window (see TurnContext). */
  prompt: FittedPrompt;
  /** The tools the session may call now, offered to the model by name. */
  tools: ReadonlyMap<string, ToolDefinition>;
  step: number;
  /** Aborts the call: a cancel, a lost lease or a shutdown. */
  signal: AbortSignal;
  /** Sends a progress event (the text deltas) on the session's topic. */
  announce: (event: AgentryEvent) => Promise<void>;
  /** The step's span, which the call's span goes under. */
  trace: StepTrace;
}

/**
 * One model call, streamed: text goes out as deltas (coalesced, under the message id chosen
 * before the call, which the recorded answer keeps; the last one goes with the answer's record),
 * tool calls are collected. A call that fails
 * or is cancelled throws an InterruptedModelCall carrying what it had written.
 */
export async function runModelStep(options: ModelStepOptions): Promise<ModelAnswer> {
  const { session, step } = options;
  const messageId = randomUUID();
  const deltas = new DeltaCoalescer((offset, text) =>
    options.announce({ type: 'message.delta', data: { sessionId: session.id, messageId, offset, text } }),
  );
  const started = performance.now();
  let text = '';
  const calls: RecordedToolCall[] = [];
  const span = options.trace.modelCall({
    model: session.model,
    input: () => options.prompt,
  });
  try {
    const result = streamText({
      model: options.model,
      system: options.prompt.system,
      messages: options.prompt.messages,
      tools: toToolSet(options.tools),
      abortSignal: options.signal,
      maxRetries: 0,
      onError: () => undefined,
    });
    for await (const part of result.fullStream) {
      if (part.type === 'text-delta') {
        text += part.text;
        deltas.push(part.text);
      } else if (part.type === 'tool-call') calls.push({ callId: part.toolCallId, tool: part.toolName, input: part.input });
      else if (part.type === 'error') throw part.error;
    }
    const usage = await result.usage;
    const lastDelta = await deltas.rest();
    const cost = options.prices.costOf(session.model, usage);
    span.end({
      inputTokens: usage.inputTokens ?? 0,
      outputTokens: usage.outputTokens ?? 0,
      finishReason: await result.finishReason,
      output: () => ({ text, toolCalls: calls.map((call) => ({ ...call, input: redactArguments(call.input) })) }),
    });
    return {
      messageId,
      text,
      calls,
      usage: { inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 },
      cost: cost.costUsd,
      costEstimated: cost.estimated,
      latencyMs: Math.round(performance.now() - started),
      ...(lastDelta ? { lastDelta } : {}),
    };
  } catch (error) {
    span.fail(error);
    throw new InterruptedModelCall(error, { step, messageId, text, latencyMs: Math.round(performance.now() - started) });
  } finally {
    await deltas.drain();
  }
}

/** The tools as the model is offered them: name, description and input schema; they run elsewhere. */
function toToolSet(tools: ReadonlyMap<string, ToolDefinition>): ToolSet {
  return Object.fromEntries(
    [...tools.values()].map((t) => [t.name, tool({ description: t.description, inputSchema: jsonSchema(t.inputSchema) })]),
  );
}
