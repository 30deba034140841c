export type { ChatChannel, ChatIdentity, ChatMessage, ChatPage, ChatWorkspace } from './chat-workspace.ts';
export { chatServer, registerChatTools } from './chat-server.ts';
export { SLACK_API_BASE_URL, slackApi, slackTokenRefused } from './slack-api.ts';
export { slackServer } from './slack-server.ts';
export { SlackWorkspace } from './slack-workspace.ts';
