import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { ErrorCode, ReportedError } from '../errors.ts';

/*
 * The typed shape of Agentry's tables, as the migrations in backend/database/migrations/ build
 * them. Kysely checks every query against these types; a migration that changes a table changes
 * its interface here in the same commit.
 */

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/**
 * A jsonb column holding `T`: read as `T` (the driver parses jsonb), written as `T` when it is an
 * object or a scalar (the driver serialises it), or as `JsonText`. Arrays and strings go only as
 * `JsonText`: the driver would send a JS array as a PostgreSQL array, and a JS string as JSON text
 * to be parsed. `JsonValue` where the shape is open.
 */
type Json<T = JsonValue> = ColumnType<T, JsonWrite<T> | undefined, JsonWrite<T>>;
type JsonWrite<T> = Exclude<T, readonly unknown[] | string> | JsonText;
declare const jsonText: unique symbol;
/** A value serialised for a jsonb column, made only by `toJsonText`. */
export type JsonText = string & { readonly [jsonText]: true };

/** Serialises `value` for a jsonb column (see `Json`). */
export function toJsonText(value: unknown): JsonText {
  return JSON.stringify(value) as JsonText;
}

/** A tool call as an assistant message records it (`messages.tool_calls`). */
export interface RecordedToolCall {
  callId: string;
  tool: string;
  input: unknown;
}

/** What a checkpoint keeps of its session (`session_checkpoints.state`). */
export interface CheckpointState {
  status: SessionStatus;
  context: Record<string, unknown>;
  version: number;
  counters: { messages: number; toolCalls: number; errors: number };
}

export interface UsersTable {
  id: Generated<string>;
  email: string;
  name: string;
  timezone: Generated<string>;
  is_admin: Generated<boolean>;
  disabled_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface ApiTokensTable {
  id: Generated<string>;
  user_id: string;
  name: string;
  /** SHA-256 of the token, hex. The token itself is never stored. */
  token_hash: string;
  /** The first characters of the token, so a user can tell their tokens apart. */
  token_prefix: string;
  created_at: CreatedAt;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface AuditLogTable {
  id: Generated<string>;
  at: CreatedAt;
  actor_user_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  details: Json;
}

export interface EventsTable {
  /** bigserial: arrives as a string; ids stay below 2^53 and are handled as numbers. */
  id: Generated<string>;
  user_id: string;
  topic: string;
  type: string;
  data: Json;
  at: CreatedAt;
}

export type DocumentStatus = 'pending' | 'processing' | 'completed' | 'failed';

export interface KbDocumentsTable {
  id: Generated<string>;
  user_id: string;
  title: string;
  source: string | null;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  metadata: Json;
  file_name: string | null;
  content_type: string;
  /** bigint: arrives as a string. */
  size_bytes: ColumnType<string, number, number>;
  checksum: string;
  storage_key: string;
  text: string;
  redactions: Generated<number>;
  chunk_size: number;
  chunk_overlap: number;
  status: DocumentStatus;
  error_code: ErrorCode | null;
  error_message: string | null;
  version: Generated<number>;
  active_version: number | null;
  chunk_count: Generated<number>;
  embedding_model: string | null;
  lease_owner: string | null;
  lease_expires_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  processed_at: Timestamp | null;
}

export interface KbChunksTable {
  id: Generated<string>;
  document_id: string;
  user_id: string;
  version: number;
  chunk_index: number;
  content: string;
  token_count: number;
  char_start: number;
  char_end: number;
}

export interface KbEmbeddingModelsTable {
  model: string;
  dimensions: number;
  state: 'building' | 'active' | 'retired';
  created_at: CreatedAt;
  activated_at: Timestamp | null;
}

export interface KbEmbeddingsTable {
  chunk_id: string;
  model: string;
  user_id: string;
  /** pgvector text form, e.g. "[0.1,0.2]". */
  embedding: string;
}

export interface TemplatesTable {
  id: Generated<string>;
  /** Null for a built-in. */
  user_id: string | null;
  slug: string;
  latest_version: Generated<number>;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  /** A deleted user template, or a built-in no longer in the library. */
  deleted_at: Timestamp | null;
}

export interface TemplateVersionsTable {
  template_id: string;
  version: number;
  /** The template's JSON definition, validated before it is written (templates/template-definition.ts). */
  definition: ColumnType<unknown, object, object>;
  /** SHA-256 of the canonical definition: the library sync adds a version only when it changed. */
  checksum: string;
  created_at: CreatedAt;
}

export interface AgentsTable {
  id: Generated<string>;
  user_id: string;
  name: string;
  /** Unique per user, `[a-z0-9-]`: how a client names the agent as a model. */
  slug: Generated<string>;
  instructions: Generated<string>;
  /** Null: the configured default model. */
  model: string | null;
  template_id: string | null;
  /** Null: every tool the session is offered. */
  tools: string[] | null;
  /** The agent's own approval rules: tool names or patterns with allow, ask or deny. */
  approval_rules: ColumnType<Array<{ tool: string; decision: ApprovalDecision }>, string | undefined, string>;
  is_default: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export type SessionStatus = 'running' | 'paused' | 'completed' | 'failed';

export interface AgentSessionsTable {
  id: Generated<string>;
  user_id: string;
  agent_id: string | null;
  template_id: string | null;
  template_version: number | null;
  status: SessionStatus;
  context: Json<Record<string, unknown>>;
  variables: Json<Record<string, unknown>>;
  model: string;
  system_prompt: string;
  user_prompt: string | null;
  tools: ColumnType<string[], string[] | undefined, string[]>;
  /** The optimistic lock: every write checks and bumps it. */
  version: Generated<number>;
  message_count: Generated<number>;
  tool_call_count: Generated<number>;
  error_count: Generated<number>;
  /** bigint: arrives as a string. */
  input_tokens: ColumnType<string, number | undefined, number | string>;
  output_tokens: ColumnType<string, number | undefined, number | string>;
  /** numeric: arrives as a string. */
  cost_usd: ColumnType<string, number | undefined, number | string>;
  /** Some of cost_usd was counted at the default price: a model with no price. */
  cost_estimated: Generated<boolean>;
  last_error: Json<ReportedError> | null;
  started_at: CreatedAt;
  last_active_at: ColumnType<Date, Date | string | undefined, Date | string>;
  completed_at: Timestamp | null;
  /** Started by a trigger, with no one watching: its approvals wait for the user. */
  unattended: Generated<boolean>;
  /** The trigger firing that started it (unique: a firing starts one session, even across a crash). */
  trigger_firing_id: string | null;
}

export interface ConversationsTable {
  id: Generated<string>;
  user_id: string;
  session_id: string | null;
  title: Generated<string>;
  created_at: CreatedAt;
}

export type CheckpointReason = 'created' | 'step' | 'status' | 'manual' | 'restore' | 'context';

export interface SessionCheckpointsTable {
  id: Generated<string>;
  session_id: string;
  user_id: string;
  seq: number;
  reason: CheckpointReason;
  name: string | null;
  step: Generated<number>;
  /** bigint: arrives as a string. */
  message_seq: ColumnType<string, string | number | undefined, never>;
  state: Json<CheckpointState>;
  created_at: CreatedAt;
}

export type TurnStatus = 'running' | 'suspended' | 'awaiting_approval' | 'completed' | 'failed' | 'cancelled' | 'step_limit';

export interface TurnsTable {
  id: Generated<string>;
  session_id: string;
  conversation_id: string;
  user_id: string;
  status: TurnStatus;
  steps: Generated<number>;
  error: Json<ReportedError> | null;
  started_at: CreatedAt;
  finished_at: Timestamp | null;
  /** The instance executing the turn, and until when; both null when no one holds it. */
  lease_owner: string | null;
  lease_expires_at: Timestamp | null;
  /** How often an expired lease was reclaimed and the turn resumed. */
  recoveries: Generated<number>;
  /** Set by a cancel on any instance; the lease holder stops the turn at its next heartbeat. */
  cancel_requested: Generated<boolean>;
}

export type ToolCallStatus = 'pending' | 'awaiting_approval' | 'started' | 'completed' | 'skipped';

/** How a call's approval ended: its one decision, an expiry, or the session's pause or end. */
export type ApprovalOutcome = 'approved' | 'denied' | 'expired' | 'dropped';
export type ApprovalStatus = 'pending' | ApprovalOutcome;
export type ApprovalDecision = 'allow' | 'ask' | 'deny';

/** One call's request for a person's approval, and the decision on it. */
export interface ToolApprovalsTable {
  id: Generated<string>;
  tool_call_id: string;
  session_id: string;
  turn_id: string;
  user_id: string;
  agent_id: string | null;
  call_id: string;
  tool: string;
  /** The arguments the model asked for (the ledger holds what runs, edited or not). */
  input: Json | null;
  /** The tool's input schema when it was asked, for the console's edit form. */
  input_schema: Json | null;
  status: Generated<ApprovalStatus>;
  edited: Generated<boolean>;
  note: string | null;
  decided_by: string | null;
  decided_at: Timestamp | null;
  /** Null: the wait never expires. */
  expires_at: Timestamp | null;
  created_at: CreatedAt;
}

/** A user's rule: "always allow this tool for this agent" (agent null: sessions without one). */
export interface ToolApprovalRulesTable {
  id: Generated<string>;
  user_id: string;
  agent_id: string | null;
  tool: string;
  decision: ApprovalDecision;
  created_at: CreatedAt;
}

export interface ToolCallsTable {
  id: Generated<string>;
  idempotency_key: string;
  session_id: string;
  turn_id: string;
  user_id: string;
  step: number;
  call_index: number;
  call_id: string;
  tool: string;
  input: Json | null;
  idempotent: boolean;
  status: Generated<ToolCallStatus>;
  /** The decision on a call that waited for approval; null for one policy allowed. */
  approval: ApprovalOutcome | null;
  result: Json | null;
  is_error: Generated<boolean>;
  attempts: Generated<number>;
  duration_ms: number | null;
  created_at: CreatedAt;
  finished_at: Timestamp | null;
}

export interface MessagesTable {
  id: Generated<string>;
  /** bigserial: arrives as a string. */
  seq: ColumnType<string, never, never>;
  conversation_id: string;
  session_id: string;
  user_id: string;
  turn_id: string;
  step: Generated<number>;
  /** `summary`: a model-written summary of the conversation's older turns (see summary_through). */
  role: 'user' | 'assistant' | 'tool' | 'summary';
  content: Generated<string>;
  tool_calls: Json<RecordedToolCall[]>;
  tool_call_id: string | null;
  tool_name: string | null;
  tool_result: Json | null;
  is_error: Generated<boolean>;
  model: string | null;
  input_tokens: Generated<number>;
  output_tokens: Generated<number>;
  /** numeric: arrives as a string. */
  cost_usd: ColumnType<string | null, number | null | undefined, number | null>;
  /** cost_usd was counted at the default price: the model has no price. */
  cost_estimated: Generated<boolean>;
  latency_ms: number | null;
  /** Tokens as the model reads the message, counted when written; null on older rows (estimated when read). */
  token_count: ColumnType<number | null, number | null | undefined, never>;
  /** On a summary: the `seq` of the last message it stands in for (bigint: arrives as a string). */
  summary_through: ColumnType<string | null, string | null | undefined, never>;
  created_at: CreatedAt;
}

export interface ModelCallsTable {
  /** bigserial: arrives as a string. */
  seq: ColumnType<string, never, never>;
  user_id: string;
  session_id: string | null;
  turn_id: string | null;
  step: number;
  model: string;
  input_tokens: Generated<number>;
  output_tokens: Generated<number>;
  /** numeric: arrives as a string. */
  cost_usd: ColumnType<string | null, number | null | undefined, number | null>;
  /** cost_usd was counted at the default price: the model has no price. */
  cost_estimated: Generated<boolean>;
  latency_ms: number;
  error: Json<ReportedError> | null;
  created_at: CreatedAt;
}

export interface IntegrationConnectionsTable {
  id: Generated<string>;
  user_id: string;
  provider: string;
  auth_type: 'oauth2' | 'api_key' | 'none';
  status: ColumnType<'connected' | 'degraded' | 'error' | 'disconnected', 'connected' | 'degraded' | 'error' | 'disconnected' | undefined>;
  /** AES-256-GCM sealed (integrations/credential-vault.ts); never anything else. */
  credentials: Uint8Array | null;
  credentials_key_id: string | null;
  credentials_version: Generated<number>;
  token_expires_at: Timestamp | null;
  scopes: string | null;
  mcp_url: string | null;
  last_error: Json | null;
  refresh_claimed_by: string | null;
  refresh_claimed_until: Timestamp | null;
  connected_at: ColumnType<Date, Date | string | undefined, Date | string>;
  refreshed_at: Timestamp | null;
  health_checked_at: Timestamp | null;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export type ToolFlag = 'description-changed' | 'hidden-instructions';

export interface IntegrationToolsTable {
  connection_id: string;
  user_id: string;
  provider: string;
  name: string;
  remote_name: string;
  description: string;
  input_schema: Json;
  idempotent: boolean;
  /** The server said readOnlyHint and its annotations are trusted: allowed without asking by default. */
  read_only: Generated<boolean>;
  description_hash: string;
  flags: ColumnType<ToolFlag[], string | undefined, string>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface IntegrationEventsTable {
  /** bigserial: arrives as a string. */
  id: Generated<string>;
  user_id: string;
  connection_id: string | null;
  provider: string;
  type: 'tool_used' | 'error';
  tool: string | null;
  parameters: Json | null;
  outcome: 'ok' | 'error' | null;
  error_code: string | null;
  duration_ms: number | null;
  at: CreatedAt;
}

export interface OAuthStatesTable {
  /** SHA-256 of the state, hex: the state itself travels only through the user's browser. */
  state_hash: string;
  user_id: string;
  provider: string;
  code_verifier: string;
  redirect_uri: string;
  browser_binding: string;
  expires_at: Timestamp;
  created_at: CreatedAt;
}

/** A client Agentry registered at an MCP server's authorization server (migration 0010). */
export interface OAuthClientRegistrationsTable {
  issuer: string;
  redirect_uri: string;
  client_id: string;
  /** AES-256-GCM sealed (integrations/credential-vault.ts); never anything else. */
  registration: Uint8Array;
  registration_key_id: string;
  created_at: CreatedAt;
}

/** A sandbox user whose sample data has been made (see migration 0012). */
export interface SandboxAccountsTable {
  user_id: string;
  seeded_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** What a sandbox mail keeps beside its columns: the headers, body and attachment names. */
export interface SandboxMailContent {
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  body: string;
  replyTo?: string;
  attachments: string[];
}

export interface SandboxMailTable {
  user_id: string;
  id: string;
  thread_id: string;
  draft_id: string | null;
  received_at: Timestamp;
  label_ids: Json<string[]>;
  message: Json<SandboxMailContent>;
}

export interface SandboxEventsTable {
  user_id: string;
  calendar_id: string;
  id: string;
  starts_at: Timestamp;
  ends_at: Timestamp;
  status: string;
  /** The event in Google Calendar's shape (`CalendarEvent` of the calendar connector). */
  event: Json<Record<string, JsonValue>>;
}

/** What a sandbox chat message keeps beside its columns. */
export interface SandboxChatContent {
  userId: string;
  userName: string;
  text: string;
  /** A thread reply also shown in the channel. */
  broadcast?: boolean;
}

export interface SandboxChatTable {
  user_id: string;
  channel: string;
  ts: string;
  thread_ts: string | null;
  message: Json<SandboxChatContent>;
}

export type TriggerKind = 'schedule' | 'webhook' | 'integration';
export type TriggerStatus = 'active' | 'paused';

export interface TriggersTable {
  id: Generated<string>;
  user_id: string;
  name: string;
  kind: TriggerKind;
  version: Generated<number>;
  status: Generated<TriggerStatus>;
  paused_reason: string | null;
  next_fire_at: Timestamp | null;
  consecutive_failures: Generated<number>;
  watermark: Json | null;
  /** AES-256-GCM sealed (integrations/credential-vault.ts), webhooks only. */
  secret: Buffer | null;
  secret_key_id: string | null;
  previous_secret: Buffer | null;
  previous_secret_key_id: string | null;
  previous_secret_expires_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface TriggerVersionsTable {
  trigger_id: string;
  version: number;
  definition: Json<Record<string, unknown>>;
  created_at: CreatedAt;
}

/** `pending`/`queued` wait to start; `starting` is claimed under a lease; the rest are final. */
export type FiringStatus = 'pending' | 'queued' | 'starting' | 'started' | 'skipped' | 'failed';

export interface TriggerFiringsTable {
  id: Generated<string>;
  trigger_id: string;
  user_id: string;
  trigger_version: number;
  fire_key: string;
  source: 'schedule' | 'webhook' | 'integration' | 'manual';
  scheduled_at: Timestamp | null;
  input: Json<Record<string, unknown>>;
  status: Generated<FiringStatus>;
  lease_owner: string | null;
  lease_expires_at: Timestamp | null;
  attempts: Generated<number>;
  session_id: string | null;
  outcome: string | null;
  error: Json<ReportedError> | null;
  fired_at: CreatedAt;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
}

export interface NotificationsTable {
  id: Generated<string>;
  user_id: string;
  kind: string;
  title: string;
  body: Generated<string>;
  data: Json<Record<string, unknown>>;
  read_at: Timestamp | null;
  created_at: CreatedAt;
}

export interface DatabaseSchema {
  triggers: TriggersTable;
  trigger_versions: TriggerVersionsTable;
  trigger_firings: TriggerFiringsTable;
  notifications: NotificationsTable;
  sandbox_accounts: SandboxAccountsTable;
  sandbox_mail: SandboxMailTable;
  sandbox_events: SandboxEventsTable;
  sandbox_chat: SandboxChatTable;
  integration_connections: IntegrationConnectionsTable;
  integration_tools: IntegrationToolsTable;
  integration_events: IntegrationEventsTable;
  oauth_states: OAuthStatesTable;
  oauth_client_registrations: OAuthClientRegistrationsTable;
  turns: TurnsTable;
  tool_calls: ToolCallsTable;
  model_calls: ModelCallsTable;
  messages: MessagesTable;
  agents: AgentsTable;
  tool_approvals: ToolApprovalsTable;
  tool_approval_rules: ToolApprovalRulesTable;
  agent_sessions: AgentSessionsTable;
  conversations: ConversationsTable;
  session_checkpoints: SessionCheckpointsTable;
  templates: TemplatesTable;
  template_versions: TemplateVersionsTable;
  kb_documents: KbDocumentsTable;
  kb_chunks: KbChunksTable;
  kb_embedding_models: KbEmbeddingModelsTable;
  kb_embeddings: KbEmbeddingsTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
  audit_log: AuditLogTable;
  events: EventsTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type ApiTokenRow = Selectable<ApiTokensTable>;
export type AuditLogRow = Selectable<AuditLogTable>;
export type EventRow = Selectable<EventsTable>;
export type KbDocumentRow = Selectable<KbDocumentsTable>;
export type { JsonValue };
