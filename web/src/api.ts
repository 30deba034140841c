/**
 * The console's one door to the API: same-origin requests with the session cookie, the CSRF token
 * on every change, and errors turned into `ApiError` carrying the server's stable `code`.
 */
import type { paths } from './api-schema.ts';

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

/** The HTTP methods the console uses. */
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** The paths that answer `method`, as the server's OpenAPI document writes them (`/v1/sessions/{id}`). */
export type PathFor<M extends Method> = { [P in keyof paths]: paths[P][Lowercase<M>] extends undefined ? never : P }[keyof paths];

type Operation<M extends Method, P extends PathFor<M>> = NonNullable<paths[P][Lowercase<M>]>;
type Json<R> = R extends { content: { 'application/json': infer J } } ? J : undefined;
type Successes<O> = O extends { responses: infer R }
  ? { [S in keyof R]: S extends 204 ? undefined : S extends 200 | 201 | 202 ? Json<R[S]> : never }[keyof R]
  : never;

/** What `method path` answers when it succeeds: the union of its 2xx bodies (undefined for 204). */
export type Answer<M extends Method, P extends PathFor<M>> = Successes<Operation<M, P>>;

/** A query value may also be null: null and undefined values are left out of the query string. */
type OrNull<X> = { [K in keyof X]?: X[K] | null };
type Parameters_<O> = O extends { parameters: infer X } ? X : never;
type ParamsOption<O> =
  Parameters_<O> extends { path: infer X } ? (undefined extends X ? { params?: never } : { params: X }) : { params?: never };
type QueryOption<O> =
  Parameters_<O> extends { query?: infer X } ? (undefined extends X ? { query?: never } : { query?: OrNull<X> }) : { query?: never };
type BodyOption<O> = O extends { requestBody: { content: { 'application/json': infer B } } }
  ? { body: B }
  : O extends { requestBody?: { content: { 'application/json': infer B } } }
    ? { body?: B }
    : { body?: never };

/** The JSON body `method path` takes. */
export type RequestBody<M extends Method, P extends PathFor<M>> = NonNullable<BodyOption<Operation<M, P>>['body']>;

/**
 * The options of `method path`, from the contract: its path parameters (`params`), its query
 * (`query`, where undefined and null values are left out) and its JSON body, each required when the route
 * requires it.
 */
export type RequestOptions<M extends Method, P extends PathFor<M>> = { signal?: AbortSignal } & ParamsOption<Operation<M, P>> &
  QueryOption<Operation<M, P>> &
  BodyOption<Operation<M, P>>;

/** The options argument, which may be left out when nothing in it is required. */
type OptionsArgument<M extends Method, P extends PathFor<M>> =
  object extends RequestOptions<M, P> ? [options?: RequestOptions<M, P>] : [options: RequestOptions<M, P>];

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

/** The URL of a path template with its parameters filled in (each encoded) and its query appended. */
function urlOf(path: string, params: Record<string, string | number> | undefined, search: QueryValues | undefined): string {
  const filled = path.replace(/\{(\w+)\}/g, (_whole, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new Error(`${path}: no value for {${name}}`);
    return encodeURIComponent(String(value));
  });
  return filled + (search ? query(search) : '');
}

/**
 * A JSON request to `method path`, typed by the server's contract (web/src/api-schema.ts): the
 * path must be one the server answers for that method, its parameters, query and body are the
 * route's, and the answer is the route's declared response. Resolves with the parsed body
 * (undefined for 204); rejects with `ApiError`.
 */
export async function api<M extends Method, P extends PathFor<M>>(
  method: M,
  path: P,
  ...[options]: OptionsArgument<M, P>
): Promise<Answer<M, P>> {
  const { params, query: search, body, signal } = (options ?? {}) as RawOptions;
  const url = urlOf(path, params, search);
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: headersFor(method, body !== undefined),
      body: body === undefined ? null : JSON.stringify(body),
      credentials: 'same-origin',
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'NETWORK', 'The server could not be reached. Check your connection and try again.');
  }
  const text = await response.text();
  if (!response.ok) {
    const error = errorOf(response.status, text);
    checkSignedIn(error, url);
    throw error;
  }
  return (text ? JSON.parse(text) : undefined) as Answer<M, P>;
}

/** The options as the request reads them, whatever the route. */
interface RawOptions {
  params?: Record<string, string | number>;
  query?: QueryValues;
  body?: unknown;
  signal?: AbortSignal;
}

/**
 * A multipart upload with progress (fetch reports none for request bodies). Resolves with the
 * parsed answer; rejects with `ApiError`.
 */
export function upload<P extends Exclude<PathFor<'POST'>, `${string}{${string}`>>(
  path: P,
  form: FormData,
  onProgress: (fraction: number) => void,
): Promise<Answer<'POST', P>> {
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
        resolve(JSON.parse(request.responseText) as Answer<'POST', P>);
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

type QueryValues = Record<string, string | number | boolean | undefined | null>;

/** A query string from the defined values only. */
function query(params: QueryValues): string {
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
