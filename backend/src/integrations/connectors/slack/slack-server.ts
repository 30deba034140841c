import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ProviderApi } from '../provider-api.ts';
import { chatServer } from './chat-server.ts';
import { SlackWorkspace } from './slack-workspace.ts';

/**
 * The built-in Slack MCP server: the chat tools over Slack's Web API, run in Agentry's process so
 * the user's tokens go only to Slack. `user` is the user token Slack's search needs (`search:read`);
 * without it every tool but search and mentions works. Build the APIs with `slackApi` so that a
 * refused token is renewed. Names looked up are remembered per server instance.
 */
export function slackServer(apis: { bot: ProviderApi; user?: ProviderApi | undefined }): McpServer {
  return chatServer(new SlackWorkspace(apis), { name: 'agentry-slack', version: '1.0.0' });
}
