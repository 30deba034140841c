/**
 * A tool as the agent runtime hands it to a model: a name, a description, a JSON schema, and code.
 * Every source of tools (knowledge search, integrations, custom tools, complete-session) builds
 * this one shape, and the agent loop knows no other.
 */
export interface ToolDefinition<Input = unknown, Output = unknown> {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  /**
   * Safe to run twice with one idempotency key. After a crash, a call that may have begun is run
   * again only for such a tool; otherwise the user decides (TOOL_OUTCOME_UNKNOWN).
   */
  idempotent: boolean;
  /**
   * Whether a call waits for a person's approval when no rule says otherwise (see
   * approval-policy.ts): unset for Agentry's own tools, which are allowed.
   */
  approval?: 'allow' | 'ask' | undefined;
  /**
   * Parses and checks the model's input, then runs. Bound to one user: it sees nothing else. The
   * idempotency key (session, turn, step, call index) is stable across retries of the same call,
   * for tools that talk to an outside service to pass on.
   */
  execute(input: unknown, options?: ToolCallOptions): Promise<Output>;
  /** Checks the model's input; throws a ZodError or a `ToolError('TOOL_INPUT_INVALID')` when it does not fit. */
  parse(input: unknown): Input;
}

/** What the agent loop passes to every call of a tool. */
export interface ToolCallOptions {
  signal?: AbortSignal | undefined;
  idempotencyKey?: string | undefined;
}
