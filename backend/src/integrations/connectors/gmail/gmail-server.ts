import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ProviderApi } from '../provider-api.ts';
import { GmailMailbox } from './gmail-mailbox.ts';
import { mailServer } from './mail-server.ts';

/** Gmail's REST API, for `ProviderApi`'s `baseUrl`. */
export const gmailBaseUrl = 'https://gmail.googleapis.com';

/**
 * The built-in Gmail MCP server: the mail tools over the user's own Gmail, in the server process,
 * so the user's Google token goes only to Google (through `api`).
 */
export function gmailServer(api: ProviderApi): McpServer {
  return mailServer(new GmailMailbox(api), { name: 'gmail', version: '1.0.0' });
}
