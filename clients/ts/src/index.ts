import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './api-schema.ts';
import { openEvents, type EventsOptions } from './events.ts';

export type { paths } from './api-schema.ts';
export { AgentryStreamError, type EventFrame, type EventData, type EventsOptions } from './events.ts';

export interface AgentryClientOptions {
  /** Where Agentry answers, e.g. http://127.0.0.1:3000 */
  baseUrl: string;
  /** An API token (agt_…), sent as the bearer token of every request and the event stream's first frame. */
  token: string;
}

type UploadAnswer = paths['/v1/knowledge/documents']['post']['responses'][200]['content']['application/json'];

/** A document to upload: text with a title, or a file's bytes with its name (.txt, .md, .html, .pdf, .docx). */
export type DocumentUpload =
  { title: string; content: string; tags?: string[] } | { file: Blob; fileName: string; title?: string; tags?: string[] };

export type AgentryClient = Client<paths> & {
  /** Adds a document to the knowledge base (the route reads JSON or a multipart file, which its OpenAPI schema cannot type). */
  uploadDocument(upload: DocumentUpload): Promise<UploadAnswer>;
  /** The event stream of `topics` over the WebSocket, resumed by id across reconnects. */
  events(options: EventsOptions): AsyncIterable<import('./events.ts').EventFrame> & { close(): void };
};

/** Agentry's error body: `{"error":{"code","message","details"}}`, with a code from its one registry. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** An API answer that was an error, thrown by `unwrap`. */
export class AgentryApiError extends Error {
  readonly code: string;
  readonly details: unknown;
  constructor(
    readonly status: number,
    body: unknown,
  ) {
    const error = (body as Partial<ApiErrorBody> | undefined)?.error;
    super(`${error?.code ?? status}: ${error?.message ?? 'The request failed.'}`);
    this.name = 'AgentryApiError';
    this.code = error?.code ?? 'HTTP_' + status;
    this.details = error?.details;
  }
}

/**
 * The data of a successful answer, or an `AgentryApiError` thrown with the server's code and
 * message (the OpenAPI document types success answers; every error has the one shape above).
 */
export async function unwrap<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await request;
  if (!response.ok || data === undefined) throw new AgentryApiError(response.status, error);
  return data;
}

/**
 * A client for Agentry's REST API whose paths, parameters, bodies and answers are typed from the
 * server's OpenAPI document (`src/api-schema.ts`, written by `npm run api:types`, checked fresh by
 * `npm test`), plus the event stream typed from the server's event union.
 */
export function createAgentryClient({ baseUrl, token }: AgentryClientOptions): AgentryClient {
  const root = baseUrl.replace(/\/+$/, '');
  const authorization = `Bearer ${token}`;
  const api = createClient<paths>({ baseUrl: root, headers: { authorization } });

  const uploadDocument = async (upload: DocumentUpload): Promise<UploadAnswer> => {
    let body: FormData | string;
    const headers: Record<string, string> = { authorization };
    if ('file' in upload) {
      const form = new FormData();
      form.set('file', upload.file, upload.fileName);
      if (upload.title) form.set('title', upload.title);
      if (upload.tags) form.set('tags', upload.tags.join(','));
      body = form;
    } else {
      body = JSON.stringify(upload);
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(`${root}/v1/knowledge/documents`, { method: 'POST', headers, body });
    const answer = (await response.json()) as unknown;
    if (!response.ok) throw new AgentryApiError(response.status, answer);
    return answer as UploadAnswer;
  };

  return Object.assign(api, { uploadDocument, events: (options: EventsOptions) => openEvents({ baseUrl: root, token, ...options }) });
}
