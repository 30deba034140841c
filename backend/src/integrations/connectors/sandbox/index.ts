export { SandboxCalendar } from './sandbox-calendar.ts';
export { SandboxData, sandboxLimits } from './sandbox-data.ts';
export { SandboxMailbox } from './sandbox-mailbox.ts';
export { sandboxServer, sandboxToolSets } from './sandbox-server.ts';
export { sandboxUser } from './sandbox-team.ts';
export { SandboxWorkspace } from './sandbox-workspace.ts';
