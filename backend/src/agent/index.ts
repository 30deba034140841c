export { AgentRunner, type AgentRunnerDeps, type ApprovalDecisionInput } from './agent-runner.ts';
export { type TurnOutcome } from './turn-execution.ts';
export { ChatBridge, type ChatResult } from './chat-bridge.ts';
export { extractVariables } from './variable-extraction.ts';
export { loadCustomTools, type CustomToolModule, type CustomToolContext } from './custom-tools.ts';
export { completeSessionTool } from './complete-session-tool.ts';
