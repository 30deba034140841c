import { errorCodes, isAppError, isErrorCode, type ErrorCode, type ReportedError } from '../errors.ts';

/** The registry's codes for a tool call that did not give a result: `TOOL_INPUT_INVALID`, `TOOL_FAILED`, … */
export type ToolErrorCode = Extract<ErrorCode, `TOOL_${string}`>;

/**
 * A tool call's failure as a tool reports it: a code from the registry's tool codes, a message the
 * model (and the user, in the transcript) reads, and optional details for logs.
 */
export class ToolError<C extends ToolErrorCode = ToolErrorCode> extends Error {
  readonly code: C;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: C, message?: string, details?: Readonly<Record<string, unknown>>, options?: { cause?: unknown }) {
    super(message ?? errorCodes[code].message, options);
    this.name = 'ToolError';
    this.code = code;
    this.details = details;
  }
}

export function isToolError(error: unknown): error is ToolError {
  return error instanceof ToolError;
}

/**
 * What the model reads when a call fails, and the transcript and `tool.failed` keep: arguments that
 * do not fit (a `ToolError('TOOL_INPUT_INVALID')`, or a ZodError from a tool's own schema) are
 * TOOL_INPUT_INVALID; a `ToolError` or an `AppError` keeps its code; anything else is TOOL_FAILED.
 */
export function reportToolFailure(error: unknown): ReportedError {
  const message = error instanceof Error ? error.message : String(error);
  // By name: a custom tool may bring its own copy of zod.
  if ((isToolError(error) && error.code === 'TOOL_INPUT_INVALID') || (error instanceof Error && error.name === 'ZodError')) {
    return { code: 'TOOL_INPUT_INVALID', message: `The arguments do not match the tool's schema: ${message}` };
  }
  if (isToolError(error) || isAppError(error)) return { code: error.code, message };
  // A custom tool is outside code that cannot throw our classes: a registry code it sets is kept;
  // a code of its own (or Node's ECONNREFUSED) is no code a client knows.
  const code = (error as { code?: unknown } | null)?.code;
  return { code: isErrorCode(code) ? code : 'TOOL_FAILED', message };
}
