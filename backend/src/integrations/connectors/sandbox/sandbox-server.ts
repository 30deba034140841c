import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerMailTools } from '../gmail/index.ts';
import { registerCalendarTools } from '../google-calendar/index.ts';
import { registerChatTools } from '../slack/index.ts';
import { SandboxCalendar } from './sandbox-calendar.ts';
import type { SandboxData } from './sandbox-data.ts';
import { SandboxMailbox } from './sandbox-mailbox.ts';
import { SandboxWorkspace } from './sandbox-workspace.ts';

/** The providers the sandbox stands in for, each with the prefix its tools carry on the sandbox's server. */
export const sandboxToolSets = { gmail: 'gmail__', 'google-calendar': 'google-calendar__', slack: 'slack__' } as const;

/**
 * The keyless sandbox as one MCP server: the mail, Calendar and chat tools (the same code as the
 * built-in Gmail, Calendar and Slack servers) over one user's sample data in Agentry's database,
 * named as the stood-in providers name them (`gmail__list_unread`), so templates written for
 * those providers find them. Nothing leaves Agentry, so no tool is open-world.
 */
export function sandboxServer(data: SandboxData, userId: string): McpServer {
  const server = new McpServer({ name: 'sandbox', version: '1.0.0' }, { capabilities: { tools: {} } });
  registerMailTools(server, new SandboxMailbox(data, userId), { prefix: sandboxToolSets.gmail, openWorld: false });
  registerCalendarTools(server, new SandboxCalendar(data, userId), { prefix: sandboxToolSets['google-calendar'], openWorld: false });
  registerChatTools(server, new SandboxWorkspace(data, userId), { prefix: sandboxToolSets.slack, openWorld: false });
  return server;
}
