export { UserService, toPublicUser, isValidTimeZone, type PublicUser, type NewUserInput, type Actor } from './user-service.ts';
export { TokenService, type Principal, type TokenCheck, type TokenInfo, type Eviction } from './token-service.ts';
export { recordAudit, listAudit, type AuditAction, type AuditEntry, type AuditRecord } from './audit-log.ts';
