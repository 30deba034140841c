export {
  PostgresDatabase,
  toDatabaseError,
  isEmbedded,
  type DatabaseTarget,
  type DatabaseDriver,
  type DatabaseOptions,
  type Executor,
} from './postgres-database.ts';
export type { DatabaseCapabilities } from './database-capabilities.ts';
export { MigrationRunner, type MigrationStatus, type MigrationRun } from './migration-runner.ts';
export { backupDatabase, restoreDatabase, readBackupHeader } from './backup.ts';
export type {
  DatabaseSchema,
  UserRow,
  ApiTokenRow,
  AuditLogRow,
  EventRow,
  JsonValue,
  SessionStatus,
  CheckpointReason,
  CheckpointState,
  RecordedToolCall,
  AgentsTable,
  AgentSessionsTable,
  TurnStatus,
  MessagesTable,
  TurnsTable,
  ToolCallsTable,
  ToolCallStatus,
  ApprovalOutcome,
  ApprovalStatus,
  ApprovalDecision,
  ToolApprovalsTable,
  IntegrationConnectionsTable,
  ToolFlag,
  DocumentStatus,
  KbDocumentsTable,
  JsonText,
  SandboxChatContent,
  SandboxMailContent,
  TriggerKind,
  TriggerStatus,
  TriggersTable,
  TriggerFiringsTable,
  FiringStatus,
  NotificationsTable,
} from './schema.ts';
export { toJsonText } from './schema.ts';
export { encodeCursor, decodeCursor } from './page-cursor.ts';
export { isUuid } from './uuid.ts';
export { dataExceptionOf } from './data-exception.ts';
