/*
 * Redaction's public surface: what "looks like a secret", decided in one place for the knowledge
 * base (documents before chunking), session context and tool-call records (events, usage,
 * transcripts). Any export added here becomes public API for the other areas; named exports only.
 */
export { isCredentialName } from './credential-name.ts';
export { redactArguments } from './redact-arguments.ts';
export { redactionMarker, redactSecrets } from './redact-secrets.ts';
