export { AgentService, type AgentView, type AgentInput, type AgentApprovalRule } from './agent-service.ts';
export { agentSlugPattern, agentSlugMaxLength } from './agent-slug.ts';
export { type NewSession } from './session-creation.ts';
export { SessionService, type SessionListQuery } from './session-service.ts';
export { sessionTopic } from './session-events.ts';
export { type SessionView } from './session-view.ts';
export { type SessionRow } from './session-row.ts';
export { type CheckpointView } from './session-checkpoints.ts';
export { sessionStatuses } from './session-status.ts';
export { sanitizeContext, contextLimits, type DroppedContext } from './context-sanitizer.ts';
export { removeFinishedSessions } from './session-retention.ts';
export { TurnStore, type HeldTurn } from './turn-store.ts';
export { SessionContextStore, type ConversationSummary } from './session-context.ts';
export { type ModelAnswer, type ModelUsage, type UnrecordedModelCall, type CallResult, type TurnState } from './step-records.ts';
export { type MessageView, type MessageRow, type RecordedToolCall } from './turn-transcript.ts';
export { type ModelCallSpan, type ToolCallSpan, type TurnTimeline } from './turn-timeline.ts';
export { type EndStatus, type ToolDecision } from './unattended-turns.ts';
export { LeaseLost, type TurnRow } from './turn-leases.ts';
export { type LedgerEntry, type ToolOutcome } from './tool-ledger.ts';
export {
  ToolApprovals,
  approvalsTopic,
  type ApprovalRow,
  type ApprovalVerdict,
  type ApprovalWait,
  type ApprovalWaitListener,
} from './tool-approvals.ts';
export { ApprovalRules, type ApprovalRuleView } from './approval-rules.ts';
