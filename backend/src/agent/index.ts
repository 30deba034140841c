export { AgentRunner, toMessageView, type AgentRunnerDeps, type MessageView, type TurnOutcome } from './agent-runner.ts';
