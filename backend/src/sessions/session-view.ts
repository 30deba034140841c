import type { SessionStatus } from '../database/index.ts';
import type { SessionRow } from './session-row.ts';

export interface SessionView {
  id: string;
  status: SessionStatus;
  agentId: string | null;
  templateId: string | null;
  templateVersion: number | null;
  model: string;
  tools: string[];
  /** The template's first user message, rendered, for a client that starts the run without one of its own. */
  userPrompt: string | null;
  context: unknown;
  variables: unknown;
  /** The session's first conversation. */
  conversationId: string | null;
  counters: {
    messages: number;
    toolCalls: number;
    errors: number;
    inputTokens: number;
    outputTokens: number;
    costUsd: number;
    costEstimated: boolean;
  };
  lastError: unknown;
  version: number;
  startedAt: string;
  lastActiveAt: string;
  completedAt: string | null;
}

/** The session as clients see it: camel-cased, counters as numbers (bigint and numeric columns arrive as strings), times in ISO form. */
export function toSessionView(row: SessionRow, conversationId: string | null): SessionView {
  return {
    id: row.id,
    status: row.status,
    agentId: row.agent_id,
    templateId: row.template_id,
    templateVersion: row.template_version,
    model: row.model,
    tools: row.tools,
    userPrompt: row.user_prompt,
    context: row.context,
    variables: row.variables,
    conversationId,
    counters: {
      messages: row.message_count,
      toolCalls: row.tool_call_count,
      errors: row.error_count,
      inputTokens: Number(row.input_tokens),
      outputTokens: Number(row.output_tokens),
      costUsd: Number(row.cost_usd),
      costEstimated: row.cost_estimated,
    },
    lastError: row.last_error,
    version: row.version,
    startedAt: row.started_at.toISOString(),
    lastActiveAt: row.last_active_at.toISOString(),
    completedAt: row.completed_at?.toISOString() ?? null,
  };
}
