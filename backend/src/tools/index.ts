export type { ToolCallOptions, ToolDefinition } from './tool-definition.ts';
export { isToolError, reportToolFailure, ToolError, type ToolErrorCode } from './tool-error.ts';
export {
  everyIntegrationTool,
  isIntegrationToolName,
  patternReachesProvider,
  providerIdPattern,
  providerOfTool,
  providerToolsPattern,
  toolPatternCovers,
} from './tool-pattern.ts';
export { toolSet, type NamedToolSource, type ToolsFor, type ToolSources, type UserToolFactory } from './tool-set.ts';
export {
  approvalLevels,
  approvalPatternMatches,
  approvalPatternMaxLength,
  decideApproval,
  isApprovalPattern,
  matchingRule,
  noApprovalRules,
  type ApprovalDecision,
  type ApprovalDefault,
  type ApprovalLevel,
  type ApprovalRule,
  type ApprovalRules,
} from './approval-policy.ts';
