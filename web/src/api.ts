/**
 * The console's one door to the API: same-origin requests with the session cookie, the CSRF token
 * on every change, and errors turned into `ApiError` carrying the server's stable `code`.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
const signedOutListeners = new Set<() => void>();

/** Set from the sign-in answer or `GET /v1/console/session`; sent as `x-csrf-token` with changes. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the server says the session is over (revoked elsewhere, expired). */
export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export function notifySignedOut(): void {
  for (const listener of signedOutListeners) listener();
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal;
}

function headersFor(method: string, hasJsonBody: boolean): Record<string, string> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (hasJsonBody) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  return headers;
}

function errorOf(status: number, text: string): ApiError {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
    if (parsed.error?.code)
      return new ApiError(status, parsed.error.code, parsed.error.message ?? 'The request failed.', parsed.error.details);
  } catch {
    // not our error format: a proxy's page, say
  }
  return new ApiError(status, status >= 500 ? 'SERVER_ERROR' : 'REQUEST_FAILED', `The server answered ${status}.`);
}

function checkSignedIn(error: ApiError, path: string): void {
  if (error.status === 401 && !path.startsWith('/v1/console/')) notifySignedOut();
}

/** A JSON request. Resolves with the parsed body (undefined for 204); rejects with `ApiError`. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: headersFor(method, options.body !== undefined),
      body: options.body === undefined ? null : JSON.stringify(options.body),
      credentials: 'same-origin',
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'NETWORK', 'The server could not be reached. Check your connection and try again.');
  }
  const text = await response.text();
  if (!response.ok) {
    const error = errorOf(response.status, text);
    checkSignedIn(error, path);
    throw error;
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * A multipart upload with progress (fetch reports none for request bodies). Resolves with the
 * parsed answer; rejects with `ApiError`.
 */
export function upload<T>(path: string, form: FormData, onProgress: (fraction: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', path);
    for (const [name, value] of Object.entries(headersFor('POST', false))) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) {
        onProgress(1);
        resolve(JSON.parse(request.responseText) as T);
      } else {
        const error = errorOf(request.status, request.responseText);
        checkSignedIn(error, path);
        reject(error);
      }
    };
    request.onerror = () => reject(new ApiError(0, 'NETWORK', 'The upload was interrupted. Check your connection and try again.'));
    request.send(form);
  });
}

/** A query string from the defined values only. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** What to show a person for a failure. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return 'Something went wrong. Try again.';
}
