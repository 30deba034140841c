export { AgentService, type AgentView, type AgentInput } from './agent-service.ts';
export { SessionService, sessionTopic, type SessionView, type CheckpointView, type NewSession, type SessionListQuery, type StepCounts } from './session-service.ts';
export { sessionStatuses } from './session-status.ts';
export { sanitizeContext, contextLimits, type DroppedContext } from './context-sanitizer.ts';
export { removeFinishedSessions } from './session-retention.ts';
export { endTurn } from './turn-end.ts';
