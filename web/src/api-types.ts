/*
 * The shapes the console reads, as the API answers them. The server's OpenAPI document
 * (`/openapi.json`, generated from the routes' schemas) is the reference; these name only the
 * fields the pages use, and the browser tests exercise every one against the real server.
 */

export interface Me {
  id: string;
  email: string;
  name: string;
  timezone: string;
  admin: boolean;
}

export interface ConsoleSession {
  user: Me;
  csrfToken: string | null;
}

export interface TemplateVariable {
  name: string;
  type: 'string' | 'number' | 'boolean' | 'enum' | 'date' | 'list';
  required?: boolean;
  default?: string | number | boolean | string[];
  description?: string;
  values?: string[];
  min?: number | string;
  max?: number | string;
}

export interface Template {
  id: string;
  slug: string;
  name: string;
  description: string;
  category: string;
  tags: string[];
  systemPrompt: string;
  userPrompt?: string;
  variables: TemplateVariable[];
  integrations: { required: string[]; optional: string[] };
  steps: Array<{ instruction: string; tools?: string[] }>;
  examples: string[];
  model?: string;
  version: number;
  builtIn: boolean;
  createdAt: string;
}

export interface TemplateListing extends Template {
  available: boolean;
  missingIntegrations: string[];
}

export type ConnectionStatus = 'connected' | 'degraded' | 'error' | 'disconnected';

export interface Connection {
  id: string;
  provider: string;
  status: ConnectionStatus;
  authType: 'oauth2' | 'api_key' | 'none';
  scopes: string | null;
  mcpUrl: string | null;
  lastError: { code: string; message: string } | null;
  connectedAt: string;
  refreshedAt: string | null;
  expiresAt: string | null;
}

export interface Integration {
  provider: string;
  name: string;
  icon: string;
  description: string;
  docs: { oauth?: string; mcp?: string };
  authType: 'oauth2' | 'api_key' | 'none';
  userSuppliedUrl: boolean;
  available: boolean;
  unavailableReason: string | null;
  connection: Connection | null;
}

export interface DiscoveredTool {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  idempotent: boolean;
  flags: string[];
}

export interface DiscoveredIntegration {
  id: string;
  provider: string;
  status: ConnectionStatus;
  tools: DiscoveredTool[];
}

export interface ToolStats {
  tool: string;
  provider: string;
  calls: number;
  errors: number;
  p50Ms: number;
  p95Ms: number;
  lastUsedAt: string;
}

export type SessionStatus = 'running' | 'paused' | 'completed' | 'failed';

export interface Session {
  id: string;
  status: SessionStatus;
  agentId: string | null;
  templateId: string | null;
  templateVersion: number | null;
  model: string;
  tools: string[];
  userPrompt: string | null;
  conversationId: string | null;
  variables: unknown;
  counters: { messages: number; toolCalls: number; errors: number; inputTokens: number; outputTokens: number; costUsd: number };
  lastError: unknown;
  startedAt: string;
  lastActiveAt: string;
  completedAt: string | null;
}

export interface SessionDetail extends Session {
  checkpoints: { count: number; latest: Checkpoint | null };
  toolsUsed: Array<{ tool: string; calls: number; errors: number }>;
  /** The unfinished turn: running, or suspended until the user decides on a tool call. */
  activeTurn: { id: string; status: 'running' | 'suspended' } | null;
}

export interface Checkpoint {
  id: string;
  seq: number;
  reason: string;
  name: string | null;
  step: number;
  createdAt: string;
}

export interface Conversation {
  id: string;
  sessionId: string | null;
  title: string;
  createdAt: string;
}

export interface Message {
  id: string;
  turnId: string;
  step: number;
  role: 'user' | 'assistant' | 'tool';
  content: string;
  toolCalls: Array<{ callId: string; tool: string; input: unknown }>;
  toolCallId: string | null;
  toolName: string | null;
  toolResult: unknown;
  isError: boolean;
  model: string | null;
  usage: { inputTokens: number; outputTokens: number };
  costUsd: number | null;
  latencyMs: number | null;
  createdAt: string;
}

export interface Agent {
  id: string;
  name: string;
  instructions: string;
  model: string | null;
  templateId: string | null;
  tools: string[] | null;
  isDefault: boolean;
  createdAt: string;
  updatedAt: string;
}

export type DocumentStatus = 'pending' | 'processing' | 'completed' | 'failed';

export interface KnowledgeDocument {
  id: string;
  title: string;
  source: string | null;
  tags: string[];
  fileName: string | null;
  contentType: string;
  sizeBytes: number;
  status: DocumentStatus;
  error: { code: string; message: string } | null;
  chunkCount: number;
  createdAt: string;
  updatedAt: string;
  processedAt: string | null;
}

export interface SearchResult {
  chunkId: string;
  documentId: string;
  title: string;
  content: string;
  similarity: number;
  score: number;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  /** The token this console session runs on. */
  current: boolean;
}
