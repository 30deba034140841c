import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { AppError, errorCodes } from '../errors.ts';
import { isToolError, reportToolFailure, ToolError } from './tool-error.ts';

describe('ToolError', () => {
  it('carries a tool code, its registry message by default, and details', () => {
    const error = new ToolError('TOOL_FAILED');
    expect(error).toBeInstanceOf(Error);
    expect(isToolError(error)).toBe(true);
    expect(error).toMatchObject({ name: 'ToolError', code: 'TOOL_FAILED', message: errorCodes.TOOL_FAILED.message, details: undefined });
    expect(new ToolError('TOOL_OUTCOME_UNKNOWN', 'maybe', { tool: 'mail__send' }).details).toEqual({ tool: 'mail__send' });
    expect(isToolError(new AppError('INTEGRATION_UNAVAILABLE'))).toBe(false);
    expect(isToolError({ code: 'TOOL_FAILED', message: 'duck' })).toBe(false);
  });
});

describe('reportToolFailure', () => {
  it('reports arguments that do not fit as TOOL_INPUT_INVALID, from a ToolError or a ZodError', () => {
    expect(reportToolFailure(new ToolError('TOOL_INPUT_INVALID', 'input must have required property to'))).toEqual({
      code: 'TOOL_INPUT_INVALID',
      message: "The arguments do not match the tool's schema: input must have required property to",
    });
    const zodError = z.strictObject({ query: z.string() }).safeParse({}).error;
    expect(reportToolFailure(zodError)).toMatchObject({
      code: 'TOOL_INPUT_INVALID',
      message: expect.stringMatching(/^The arguments do not match the tool's schema: /),
    });
  });

  it("keeps a ToolError's or an AppError's code and message", () => {
    expect(reportToolFailure(new ToolError('TOOL_OUTCOME_UNKNOWN', 'It may have run.'))).toEqual({
      code: 'TOOL_OUTCOME_UNKNOWN',
      message: 'It may have run.',
    });
    expect(reportToolFailure(new AppError('INTEGRATION_DISCONNECTED', 'gone'))).toEqual({
      code: 'INTEGRATION_DISCONNECTED',
      message: 'gone',
    });
  });

  it("keeps a custom tool's registry code, and makes anything else TOOL_FAILED", () => {
    expect(reportToolFailure(Object.assign(new Error('slow down'), { code: 'RATE_LIMITED' }))).toEqual({
      code: 'RATE_LIMITED',
      message: 'slow down',
    });
    expect(reportToolFailure(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toEqual({
      code: 'TOOL_FAILED',
      message: 'refused',
    });
    expect(reportToolFailure(new Error('boom'))).toEqual({ code: 'TOOL_FAILED', message: 'boom' });
  });
});
