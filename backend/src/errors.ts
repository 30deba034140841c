/**
 * The one registry of error codes. Every error a client can see has a code here and a default
 * message a person understands: in an HTTP response, an event, a WebSocket frame, a transcript's
 * tool result or a session's last error. A code with an HTTP `status` is an `AppError` that routes
 * throw, which the HTTP layer maps to `{"error":{"code","message","details"}}` in one place
 * (server/error-handler.ts); a code whose `status` is null is never an HTTP answer, only a value
 * inside one of the others (see `ReportedError`).
 */
export const errorCodes = {
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid.' },
  TEMPLATE_INVALID: { status: 400, message: 'The template is not valid.' },
  UNKNOWN_MODEL: { status: 400, message: 'There is no such language model on this installation.' },
  INVALID_JSON: { status: 400, message: 'The request body is not valid JSON.' },
  UNSUPPORTED_PARAMETER: { status: 400, message: 'This parameter is not supported here.' },
  FORBIDDEN_KEY: { status: 400, message: 'The request contains a forbidden key ("__proto__", "constructor" or "prototype").' },
  BODY_NOT_ALLOWED: { status: 400, message: 'This route takes no request body.' },
  OUTBOUND_REFUSED: { status: 400, message: 'Requests to this address are not allowed.' },
  OAUTH_STATE_INVALID: {
    status: 400,
    message: 'This authorization link is not valid: it was already used, has expired, or belongs to someone else. Start connecting again.',
  },
  OAUTH_DENIED: { status: 400, message: 'The provider did not authorise the connection.' },
  INVALID_INPUT: { status: 400, message: 'A value in the request is out of range or not valid for its type.' },
  INVALID_TEXT: {
    status: 400,
    message: 'The request contains a NUL character or malformed Unicode (a lone surrogate), which cannot be stored.',
  },
  UNAUTHORIZED: { status: 401, message: 'Authentication is required: send "Authorization: Bearer <token>".' },
  WEBHOOK_SIGNATURE_INVALID: {
    status: 401,
    message:
      "The delivery is not signed with this webhook's secret (X-Hub-Signature-256, or X-Agentry-Signature with a timestamp under 5 minutes old).",
  },
  FORBIDDEN: { status: 403, message: 'You are not allowed to do this.' },
  CSRF_FAILED: { status: 403, message: "This change needs the console session's CSRF token in the x-csrf-token header." },
  TEMPLATE_READ_ONLY: { status: 403, message: 'Built-in templates are read-only: create your own template to change one.' },
  NOT_FOUND: { status: 404, message: 'Not found.' },
  TEMPLATE_NOT_FOUND: { status: 404, message: 'There is no such template.' },
  AGENT_NOT_FOUND: { status: 404, message: 'There is no such agent.' },
  MODEL_NOT_FOUND: { status: 404, message: 'No agent or template of yours has this name: GET /v1/openai/models lists them.' },
  SESSION_NOT_FOUND: { status: 404, message: 'There is no such session.' },
  CONVERSATION_NOT_FOUND: { status: 404, message: 'There is no such conversation.' },
  TURN_NOT_FOUND: { status: 404, message: 'There is no such turn.' },
  APPROVAL_NOT_FOUND: { status: 404, message: 'No tool call of yours in this session awaits this decision.' },
  APPROVAL_RULE_NOT_FOUND: { status: 404, message: 'There is no such approval rule.' },
  CHECKPOINT_NOT_FOUND: { status: 404, message: 'This session has no such checkpoint.' },
  INTEGRATION_NOT_FOUND: { status: 404, message: 'There is no such integration on this installation.' },
  CONNECTION_NOT_FOUND: { status: 404, message: 'There is no such connection.' },
  TRIGGER_NOT_FOUND: { status: 404, message: 'There is no such trigger.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This route does not answer this HTTP method.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request took too long to arrive: send its headers and body faster, or a smaller body.' },
  CONFLICT: { status: 409, message: 'The request conflicts with the current state.' },
  EMAIL_TAKEN: { status: 409, message: 'A user with this email already exists.' },
  TEMPLATE_SLUG_TAKEN: { status: 409, message: 'You already have a template with this slug.' },
  AGENT_SLUG_TAKEN: { status: 409, message: 'You already have an agent with this slug.' },
  INVALID_TRANSITION: { status: 409, message: 'The session cannot change to that status from its current one.' },
  SESSION_LOCKED: { status: 409, message: 'The session was changed by another request at the same time; read it again and retry.' },
  INTEGRATIONS_MISSING: { status: 409, message: 'The template requires integrations you have not connected.' },
  CONVERSATION_IN_USE: { status: 409, message: 'The conversation already belongs to another session.' },
  SESSION_BUSY: { status: 409, message: 'A turn is running in this session: send the message again when it ends, or cancel the turn.' },
  SESSION_NOT_RUNNING: { status: 409, message: 'The session is not running: resume it first.' },
  TOOL_OUTCOME_UNKNOWN: {
    status: 409,
    message: 'A tool call may or may not have run before a crash: decide whether to retry it, skip it or fail the session.',
  },
  APPROVAL_PENDING: {
    status: 409,
    message: 'A tool call of this session awaits your approval: approve or deny it (GET /v1/approvals) before sending another message.',
  },
  APPROVAL_DECIDED: { status: 409, message: 'This tool call was already decided: the first decision stands.' },
  NOTHING_TO_RESOLVE: { status: 409, message: 'No tool call of this session awaits a decision.' },
  INTEGRATION_NOT_CONFIGURED: { status: 409, message: 'This integration is not set up on this installation yet: ask an administrator.' },
  INTEGRATION_DISCONNECTED: { status: 409, message: 'The integration was disconnected: its tools are gone.' },
  CONNECTION_BROKEN: { status: 409, message: "The connection's authorization is no longer valid: connect the integration again." },
  SELF_LOCKOUT: { status: 409, message: 'You cannot disable yourself or remove your own admin rights.' },
  LAST_ADMIN: { status: 409, message: 'This is the last enabled admin: make another user an admin first.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'This content type is not supported; send application/json.' },
  UNSUPPORTED_DOCUMENT_TYPE: { status: 415, message: 'This document type is not supported. Upload .txt, .md, .html, .pdf or .docx.' },
  INTEGRATION_KEY_REJECTED: { status: 422, message: "The integration's server refused the key: check it and try again." },
  MISSING_VARIABLES: { status: 422, message: 'Required template variables are missing.' },
  INVALID_VARIABLE: { status: 422, message: 'A template variable has a value of the wrong type.' },
  // A turn's history and prompt do not fit the model's window: the turn ends with it (a message that alone cannot fit).
  CONTEXT_TOO_LARGE: {
    status: 422,
    message:
      "The turn does not fit the model's context window even with older messages shortened, summarised and left out: shorten the prompt or the message, or use a model with a larger window.",
  },
  DOCUMENT_EMPTY: { status: 422, message: 'The document has no text.' },
  DOCUMENT_UNREADABLE: { status: 422, message: 'The document cannot be read.' },
  DOCUMENT_TOO_COMPLEX: {
    status: 422,
    message: 'Reading this document needs more than one document may use (unpacked bytes, nesting, time or memory).',
  },
  RATE_LIMITED: { status: 429, message: 'Too many requests; retry later.' },
  DOCUMENT_QUEUE_FULL: { status: 429, message: 'You have too many documents waiting to be read; upload more once they are done.' },
  QUOTA_EXCEEDED: { status: 429, message: 'You have reached your monthly spend limit for language models.' },
  TOO_MANY_STREAMS: { status: 429, message: 'You have too many event streams open: close one first.' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large.' },
  CREDENTIALS_UNREADABLE: { status: 500, message: 'Stored credentials cannot be decrypted with the configured secret key.' },
  INTERNAL: { status: 500, message: 'Something went wrong on our side. The request id identifies it in the server log.' },
  EMBEDDING_API_ERROR: { status: 502, message: 'The embedding service failed; retry later.' },
  INTEGRATION_UNAVAILABLE: { status: 502, message: "The integration's MCP server cannot be reached or failed; retry later." },
  OAUTH_PROVIDER_ERROR: { status: 502, message: "The integration's provider failed; retry later." },
  MCP_AUTHORIZATION_UNSUPPORTED: {
    status: 502,
    message:
      "The integration's MCP server does not offer the authorization Agentry speaks (metadata naming its authorization server, PKCE S256, and client registration or a configured client).",
  },
  MODEL_API_ERROR: { status: 502, message: 'The language model service failed; retry later.' },
  DATABASE_BUSY: { status: 503, message: 'The database is busy; retry in a moment.' },
  DATABASE_UNAVAILABLE: { status: 503, message: 'The database cannot be reached.' },
  DOCUMENT_READERS_BUSY: { status: 503, message: 'The server has too many documents waiting to be read; retry in a minute.' },
  FEATURE_UNAVAILABLE: { status: 503, message: 'This feature is not available on this installation.' },
  CONSOLE_NOT_BUILT: {
    status: 503,
    message: 'The console has not been built: run "npm run build" (npm ci does it), then start the server again. The API works without it.',
  },
  SHUTTING_DOWN: { status: 503, message: 'The server is shutting down; retry on another instance.' },
  TURN_TIMEOUT: {
    status: 504,
    message: 'The turn did not end within the time this request waits for it; it goes on in its session, where its answer will be.',
  },
  MODEL_TIMEOUT: { status: 504, message: 'The language model stopped responding; retry later.' },
  // Start-up and CLI errors: never an HTTP response, but they share the registry so messages stay in one place.
  CONFIG_INVALID: { status: 500, message: 'The configuration is not valid.' },
  DATABASE_LOCKED: { status: 500, message: 'The data directory is in use by another Agentry process.' },
  DATABASE_VERSION_MISMATCH: { status: 500, message: 'The data directory was written by another PostgreSQL major version.' },
  MIGRATION_FAILED: { status: 500, message: 'A database migration failed.' },
  MIGRATIONS_PENDING: {
    status: 500,
    message: 'The database has pending migrations: run "agentry migrate up", or start the server, first.',
  },
  RESTORE_REFUSED: { status: 500, message: 'The restore was refused.' },
  // How a turn ended, in `turn.ended`, the turn and the session's last error; never an HTTP answer.
  STEP_LIMIT: { status: null, message: 'The turn stopped at the step limit: the model kept calling tools.' },
  RECOVERY_EXHAUSTED: { status: null, message: 'The turn was interrupted and resumed too many times without finishing; it was stopped.' },
  RUN_SKIPPED: { status: null, message: "The trigger's previous run was still going, and its overlap policy skips a run then." },
  CANCELLED: { status: null, message: 'The turn was cancelled during the model call.' },
  SHUTDOWN: { status: null, message: 'The instance shut down during the model call.' },
  // A tool call's failed result, in the transcript and `tool.failed`: the model reads it and the turn goes on.
  TOOL_NOT_ALLOWED: { status: null, message: 'There is no such tool in this session.' },
  TOOL_INPUT_INVALID: { status: null, message: "The arguments do not match the tool's schema." },
  TOOL_FAILED: { status: null, message: 'The tool reported an error.' },
  TOOL_DENIED: { status: null, message: 'The user did not approve this call: it did not run.' },
  APPROVAL_EXPIRED: { status: null, message: 'No one decided on this call in time: it did not run.' },
  APPROVAL_DROPPED: {
    status: null,
    message: 'The session was paused, completed or failed while this call awaited approval: it did not run.',
  },
  TOOL_SKIPPED: { status: null, message: 'The call was skipped by the user after it may or may not have run.' },
  TOOL_NOT_RUN: { status: null, message: 'This call was not completed: the turn was cancelled or stopped first.' },
  // WebSocket error frames, answering a frame the connection sent; the connection stays open.
  ALREADY_AUTHENTICATED: { status: null, message: 'This connection is already authenticated.' },
  TOPIC_FORBIDDEN: { status: null, message: 'You cannot subscribe to that topic.' },
  TOO_MANY_TOPICS: { status: null, message: 'This connection follows too many topics.' },
  INVALID_SINCE: { status: null, message: 'since is ahead of the newest event id; send the last id you received.' },
  INVALID_FRAME: { status: null, message: 'Frames are JSON objects of type auth, subscribe, unsubscribe or ping.' },
} as const satisfies Record<string, { status: number | null; message: string }>;

export type ErrorCode = keyof typeof errorCodes;

/** The codes an `AppError` may carry: those with an HTTP status. */
export type AppErrorCode = { [C in ErrorCode]: (typeof errorCodes)[C]['status'] extends number ? C : never }[ErrorCode];

/** Every code, for schemas that validate a code against the registry (`z.enum(errorCodeList)`). */
export const errorCodeList = Object.keys(errorCodes) as [ErrorCode, ...ErrorCode[]];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCodes, value);
}

export function isAppErrorCode(value: unknown): value is AppErrorCode {
  return isErrorCode(value) && errorCodes[value].status !== null;
}

/**
 * An error as it is reported inside something else (an event, a WebSocket frame, a tool result in
 * a transcript, a turn's or a session's or a connection's last error): a registry code and a message.
 */
export type ReportedError = {
  code: ErrorCode;
  message: string;
};

/**
 * The structured details a code carries, by code: what a client may read besides the message
 * (`{"error":{"details"}}`). A code not listed here carries none.
 */
export interface ErrorDetails {
  VALIDATION_FAILED: { issues: Array<{ path: string; message: string }> };
  FORBIDDEN_KEY: { key: string };
  OUTBOUND_REFUSED: { host: string; range?: string };
  UNKNOWN_MODEL: { model: string; availableProviders: string[]; configured: unknown };
  INVALID_TRANSITION: { from: string; to: string; allowed: readonly string[] };
  INTEGRATIONS_MISSING: { missingIntegrations: string[] };
  CONNECTION_BROKEN: { connectionId: string; provider: string };
  EMAIL_TAKEN: { email: string };
  AGENT_SLUG_TAKEN: { slug: string };
  MODEL_NOT_FOUND: { model: string };
  UNSUPPORTED_PARAMETER: { param: string };
  TURN_TIMEOUT: { sessionId: string; turnId: string };
  MISSING_VARIABLES: { missing: string[] };
  INVALID_VARIABLE: { variable: string; type: string } | { variables: string[] };
  RATE_LIMITED: { retryAfter: string };
  QUOTA_EXCEEDED: { spentUsd: number; limitUsd: number };
  OAUTH_DENIED: { error: string };
  MODEL_TIMEOUT: { model: string; timeoutMs: number };
  CONTEXT_TOO_LARGE: { limitTokens: number; neededTokens: number; window: number };
  INTERNAL: { template: string; version: number };
  MODEL_API_ERROR: { model: string; status?: number };
  EMBEDDING_API_ERROR: { model: string; status?: number };
  OAUTH_PROVIDER_ERROR: { status: number; error: string };
  FEATURE_UNAVAILABLE: { feature: string };
  CONFIG_INVALID: { problems: string[] };
  DATABASE_LOCKED: { pid: number };
  MIGRATION_FAILED: { migration: string | undefined };
  APPROVAL_DECIDED: { outcome: 'pending' | 'approved' | 'denied' | 'expired' | 'dropped'; edited: boolean };
}

/** The details `code` may carry: its entry in `ErrorDetails`, or none. */
export type DetailsOf<C extends ErrorCode> = C extends keyof ErrorDetails ? ErrorDetails[C] : never;

/** What an `AppError` may carry besides its message: the code's typed details and the error behind it. */
export interface AppErrorOptions<C extends ErrorCode> {
  details?: DetailsOf<C>;
  cause?: unknown;
}

/**
 * A standard Error that carries a stable `code`, its HTTP status and optional structured details,
 * typed by code: `new AppError('RATE_LIMITED', message, { details: { retryAfter } })`, or
 * `new AppError('DATABASE_BUSY', { cause })` for the code's own message.
 */
export class AppError<C extends AppErrorCode = AppErrorCode> extends Error {
  readonly code: C;
  readonly status: number;
  readonly details: DetailsOf<C> | undefined;

  constructor(code: C, options?: AppErrorOptions<C>);
  constructor(code: C, message: string | undefined, options?: AppErrorOptions<C>);
  constructor(code: C, messageOrOptions?: string | AppErrorOptions<C>, maybeOptions?: AppErrorOptions<C>) {
    const message = typeof messageOrOptions === 'string' ? messageOrOptions : undefined;
    const options = typeof messageOrOptions === 'object' ? messageOrOptions : maybeOptions;
    super(message ?? errorCodes[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = errorCodes[code].status as number;
    this.details = options?.details;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
