import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { parseModelId } from '../providers/index.ts';
import { genAi } from './gen-ai-attributes.ts';

/** The most characters of content one attribute carries when content capture is on. */
const maxContentChars = 16_000;

/**
 * Spans of the agent loop: a turn holds its steps, a step its model call and tool calls. Each
 * parent is passed explicitly (no context manager is needed, and none is registered), so the
 * nesting holds across awaits whatever else runs in the process. Attributes follow the GenAI
 * semantic conventions. Content (prompts, answers, tool arguments and results) is added only
 * when `captureContent` is on, and is computed only when a span records, so with tracing off a
 * step costs a few no-op calls.
 */
export class TurnTracer {
  constructor(
    private readonly tracer: Tracer,
    private readonly options: { captureContent: boolean },
  ) {}

  turn(turn: { turnId: string; sessionId: string; conversationId: string; model: string; resumed: boolean }): TurnTrace {
    const span = this.tracer.startSpan(
      'invoke_agent agentry',
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [genAi.operationName]: 'invoke_agent',
          [genAi.agentName]: 'agentry',
          [genAi.conversationId]: turn.conversationId,
          [genAi.requestModel]: turn.model,
          'agentry.session.id': turn.sessionId,
          'agentry.turn.id': turn.turnId,
          'agentry.turn.resumed': turn.resumed,
        },
      },
      context.active(),
    );
    return new TurnTrace(this.tracer, span, this.options.captureContent);
  }
}

/** A turn's span: its steps are children; it ends with the turn's status. */
export class TurnTrace {
  private readonly context: Context;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
    private readonly captureContent: boolean,
  ) {
    this.context = trace.setSpan(context.active(), span);
  }

  step(step: number): StepTrace {
    const span = this.tracer.startSpan(`step ${step}`, { attributes: { 'agentry.step': step } }, this.context);
    return new StepTrace(this.tracer, span, this.captureContent);
  }

  end(outcome: { status: string; error?: { code: string; message: string } | undefined }): void {
    this.span.setAttribute('agentry.turn.status', outcome.status);
    if (outcome.error) {
      this.span.setAttribute(genAi.errorType, outcome.error.code);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message });
    }
    this.span.end();
  }
}

/** A step's span: one model call and the tool calls it asked for. */
export class StepTrace {
  private readonly context: Context;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
    private readonly captureContent: boolean,
  ) {
    this.context = trace.setSpan(context.active(), span);
  }

  /** `input` is asked for only when the span records and content is captured. */
  modelCall(call: { model: string; input: () => { system: string; messages: unknown } }): ModelCallTrace {
    const provider = parseModelId(call.model)?.provider ?? 'unknown';
    const model = parseModelId(call.model)?.model ?? call.model;
    const span = this.tracer.startSpan(
      `chat ${model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [genAi.operationName]: 'chat',
          [genAi.providerName]: provider,
          [genAi.system]: provider,
          [genAi.requestModel]: model,
        },
      },
      this.context,
    );
    if (this.captureContent && span.isRecording()) {
      const input = call.input();
      span.setAttributes({ [genAi.systemInstructions]: capped(input.system), [genAi.inputMessages]: capped(input.messages) });
    }
    return new ModelCallTrace(span, this.captureContent);
  }

  /** `input` is asked for only when the span records and content is captured. */
  toolCall(call: { tool: string; callId: string; input: () => unknown }): ToolCallTrace {
    const span = this.tracer.startSpan(
      `execute_tool ${call.tool}`,
      {
        attributes: {
          [genAi.operationName]: 'execute_tool',
          [genAi.toolName]: call.tool,
          [genAi.toolCallId]: call.callId,
        },
      },
      this.context,
    );
    if (this.captureContent && span.isRecording()) span.setAttribute(genAi.toolCallArguments, capped(call.input()));
    return new ToolCallTrace(span, this.captureContent);
  }

  end(): void {
    this.span.end();
  }
}

export class ModelCallTrace {
  constructor(
    private readonly span: Span,
    private readonly captureContent: boolean,
  ) {}

  end(answer: { inputTokens: number; outputTokens: number; finishReason: string; output: () => unknown }): void {
    if (this.span.isRecording()) {
      const attributes: Attributes = {
        [genAi.inputTokens]: answer.inputTokens,
        [genAi.outputTokens]: answer.outputTokens,
        [genAi.responseFinishReasons]: [answer.finishReason],
      };
      if (this.captureContent) attributes[genAi.outputMessages] = capped(answer.output());
      this.span.setAttributes(attributes);
    }
    this.span.end();
  }

  fail(error: unknown): void {
    failSpan(this.span, error);
  }
}

export class ToolCallTrace {
  constructor(
    private readonly span: Span,
    private readonly captureContent: boolean,
  ) {}

  end(outcome: { isError: boolean; value: unknown; durationMs: number }): void {
    if (this.span.isRecording()) {
      this.span.setAttributes({ 'agentry.tool.outcome': outcome.isError ? 'error' : 'ok', 'agentry.tool.duration_ms': outcome.durationMs });
      if (this.captureContent) this.span.setAttribute(genAi.toolCallResult, capped(outcome.value));
      if (outcome.isError) {
        const code = (outcome.value as { code?: unknown } | null)?.code;
        this.span.setAttribute(genAi.errorType, typeof code === 'string' ? code : 'tool_error');
        this.span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    this.span.end();
  }

  fail(error: unknown): void {
    failSpan(this.span, error);
  }
}

function failSpan(span: Span, error: unknown): void {
  if (span.isRecording()) {
    const code = (error as { code?: unknown } | null)?.code;
    span.setAttribute(genAi.errorType, typeof code === 'string' ? code : error instanceof Error ? error.name : 'error');
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message.slice(0, 500) : undefined });
  }
  span.end();
}

/** Content as one attribute: text as is, anything else as JSON, cut to a bounded size. */
function capped(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  } catch {
    text = String(value);
  }
  return text.length > maxContentChars ? `${text.slice(0, maxContentChars)}… (${text.length - maxContentChars} characters cut)` : text;
}
