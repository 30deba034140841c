import { pathToFileURL } from 'node:url';
import { Ajv } from 'ajv';
import { AppError } from '../errors.ts';
import { ToolError, type ToolDefinition } from '../tools/index.ts';

/** What a custom tool module default-exports (one tool, or a list of them). */
export interface CustomToolModule {
  name: string;
  description: string;
  /** JSON Schema of the tool's input; arguments that do not match are refused before `execute`. */
  inputSchema: Record<string, unknown>;
  /** Safe to run twice with the same idempotency key (durable execution repeats only these). */
  idempotent?: boolean;
  /** Whether a call runs at once or waits for the user's approval when no rule says otherwise; default `allow` (as before approvals existed). */
  approval?: 'allow' | 'ask';
  execute(input: unknown, context: CustomToolContext): Promise<unknown>;
}

/** What a custom tool learns about the call: who, which session, and the key that names the call. */
export interface CustomToolContext {
  userId: string;
  idempotencyKey: string | undefined;
  signal: AbortSignal | undefined;
}

export type CustomToolFactory = (userId: string) => ToolDefinition;

const namePattern = /^[a-z][a-z0-9_]{0,63}$/;
const ajv = new Ajv({ allErrors: true, strict: false });

/**
 * Loads the tool modules an administrator lists in CUSTOM_TOOLS: the extension point for in-house
 * tools. Each module's default export is checked at start (a bad one stops the start naming it);
 * its input schema is compiled once and every call's arguments are checked against it.
 */
export async function loadCustomTools(modules: readonly string[], reserved: readonly string[]): Promise<Map<string, CustomToolFactory>> {
  const tools = new Map<string, CustomToolFactory>();
  for (const where of modules) {
    let exported: unknown;
    try {
      exported = ((await import(pathToFileURL(where).href)) as { default?: unknown }).default;
    } catch (error) {
      throw new AppError('CONFIG_INVALID', `CUSTOM_TOOLS: ${where} cannot be loaded: ${(error as Error).message}`);
    }
    for (const tool of [exported].flat() as CustomToolModule[]) {
      const problem =
        !tool || typeof tool !== 'object'
          ? 'its default export is not a tool'
          : !namePattern.test(String(tool.name))
            ? `"${String(tool.name)}" is not a tool name (lower-case letters, digits and _, at most 64)`
            : reserved.includes(tool.name) || tools.has(tool.name)
              ? `the tool name "${tool.name}" is taken`
              : typeof tool.execute !== 'function' || typeof tool.description !== 'string' || typeof tool.inputSchema !== 'object'
                ? `"${tool.name}" needs a description, an inputSchema and an execute function`
                : tool.approval !== undefined && tool.approval !== 'allow' && tool.approval !== 'ask'
                  ? `the approval of "${tool.name}" must be 'allow' or 'ask'`
                  : undefined;
      if (problem) throw new AppError('CONFIG_INVALID', `CUSTOM_TOOLS: ${where}: ${problem}.`);
      let validate: ReturnType<typeof ajv.compile>;
      try {
        validate = ajv.compile(tool.inputSchema);
      } catch (error) {
        throw new AppError(
          'CONFIG_INVALID',
          `CUSTOM_TOOLS: ${where}: the input schema of "${tool.name}" is not valid JSON Schema: ${(error as Error).message}`,
        );
      }
      const parse = (input: unknown) => {
        if (!validate(input)) throw new ToolError('TOOL_INPUT_INVALID', ajv.errorsText(validate.errors));
        return input;
      };
      tools.set(tool.name, (userId) => ({
        name: tool.name,
        description: tool.description,
        inputSchema: tool.inputSchema,
        idempotent: tool.idempotent === true,
        approval: tool.approval ?? 'allow',
        parse,
        execute: (input, options) =>
          tool.execute(parse(input), { userId, idempotencyKey: options?.idempotencyKey, signal: options?.signal }),
      }));
    }
  }
  return tools;
}
