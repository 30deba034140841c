import type { z } from 'zod';

/**
 * A provider's REST API as the built-in connectors call it (Gmail, Google Calendar, Slack): JSON
 * over the outbound guard's `fetch`, with the user's token as a bearer token. The token goes only
 * to `baseUrl`, the provider's own API.
 *
 * Every answer is bounded: read whole up to `maxResponseBytes` within `timeoutMs`, then checked
 * against the caller's schema, so a provider answering garbage is a clear error rather than a
 * crash further on. A 401 renews the token once and tries again; what the provider refuses after
 * that is a `ProviderError` whose message the model and the user can act on.
 */
export interface ProviderApiOptions {
  /** The provider's name in messages ("Gmail"). */
  name: string;
  /** The API's base URL, e.g. `https://gmail.googleapis.com`; tests point it at 127.0.0.1. */
  baseUrl: string;
  /** The outbound guard's fetch: every connection checked against the address it reaches. */
  fetch(url: string, init: RequestInit): Promise<Response>;
  /** The user's token; `rejected` is the one the provider just refused (renew it). */
  token(rejected?: string): Promise<string | undefined>;
  timeoutMs: number;
  maxResponseBytes: number;
  /**
   * Whether an answer means the provider refused the token, so it is renewed once and the call
   * tried again. HTTP 401 when not given; Slack says so inside an HTTP 200 (`invalid_auth`).
   */
  tokenRefused?(answer: { status: number; text: string }): boolean;
}

export interface ProviderRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Relative to the base URL, e.g. `/gmail/v1/users/me/messages`. */
  path: string;
  query?: Record<string, string | number | boolean | readonly string[] | undefined>;
  /** Sent as JSON, unless `form` says the provider wants a form body (Slack's older methods). */
  body?: unknown;
  form?: boolean;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

/** Why a provider call gave no result, in words the model reads as the tool's error. */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** Seconds the provider asked us to wait (429's Retry-After), when it said. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

export class ProviderApi {
  constructor(private readonly options: ProviderApiOptions) {}

  get name(): string {
    return this.options.name;
  }

  /** Calls the API and checks its answer against `schema`; an empty answer (204) parses `{}`. */
  async request<T>(schema: z.ZodType<T>, request: ProviderRequest): Promise<T> {
    const token = await this.options.token();
    if (!token) throw new ProviderError(`${this.name} is not connected: connect it again on the Integrations page.`, 401);
    let response = await this.send(request, token);
    let text = await this.read(response, request.signal);
    const refused = this.options.tokenRefused ?? (({ status }) => status === 401);
    if (refused({ status: response.status, text })) {
      const renewed = await this.options.token(token);
      if (renewed && renewed !== token) {
        response = await this.send(request, renewed);
        text = await this.read(response, request.signal);
      }
    }
    if (!response.ok) throw this.refusal(response, text);
    let body: unknown = {};
    if (text.trim() !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        throw new ProviderError(`${this.name} answered something that is not JSON (HTTP ${response.status}).`, 502);
      }
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success)
      throw new ProviderError(`${this.name} answered in a shape Agentry does not understand (${parsed.error.issues[0]?.message}).`, 502);
    return parsed.data;
  }

  private async send(request: ProviderRequest, token: string): Promise<Response> {
    const url = new URL(this.options.baseUrl.replace(/\/$/, '') + request.path);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const item of value as readonly string[]) url.searchParams.append(key, item);
      else url.searchParams.set(key, String(value));
    }
    const headers = new Headers(request.headers);
    headers.set('authorization', `Bearer ${token}`);
    headers.set('accept', 'application/json');
    let body: string | undefined;
    if (request.body !== undefined) {
      if (request.form) {
        headers.set('content-type', 'application/x-www-form-urlencoded');
        body = new URLSearchParams(
          Object.entries(request.body as Record<string, unknown>)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
        ).toString();
      } else {
        headers.set('content-type', 'application/json; charset=utf-8');
        body = JSON.stringify(request.body);
      }
    }
    const signals = [AbortSignal.timeout(this.options.timeoutMs), ...(request.signal ? [request.signal] : [])];
    try {
      return await this.options.fetch(url.toString(), {
        method: request.method ?? 'GET',
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.any(signals),
        redirect: 'error',
      });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') throw new ProviderError(`${this.name} did not answer in time.`, 504);
      if ((error as Error).name === 'AbortError') throw new ProviderError(`The call to ${this.name} was cancelled.`, 499);
      // An outbound refusal keeps its own clear message; anything else is a network failure.
      if ((error as { code?: string }).code === 'OUTBOUND_REFUSED') throw error;
      throw new ProviderError(`${this.name} cannot be reached.`, 503);
    }
  }

  /** The body as text, refused past the size cap and given up on past the deadline. */
  private async read(response: Response, signal: AbortSignal | undefined): Promise<string> {
    if (!response.body) return '';
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let seen = 0;
    const deadline = AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs), ...(signal ? [signal] : [])]);
    const stop = () => void reader.cancel().catch(() => undefined);
    deadline.addEventListener('abort', stop, { once: true });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (deadline.aborted) throw new ProviderError(`${this.name} did not finish its answer in time.`, 504);
        if (done) break;
        seen += value.byteLength;
        if (seen > this.options.maxResponseBytes) {
          stop();
          throw new ProviderError(`${this.name}'s answer is too large (over ${Math.round(this.options.maxResponseBytes / 1024)} KB).`, 502);
        }
        chunks.push(value);
      }
    } finally {
      deadline.removeEventListener('abort', stop);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private refusal(response: Response, text: string): ProviderError {
    const status = response.status;
    const said = providerMessage(text);
    const detail = said ? `: ${said}` : '.';
    if (status === 401)
      return new ProviderError(`${this.name} refused the connection's credentials${detail} Connect ${this.name} again.`, status);
    if (status === 403)
      return new ProviderError(
        `${this.name} refused the request (HTTP 403)${detail} The connection may lack a permission (scope) this tool needs: connect ${this.name} again to grant it.`,
        status,
      );
    if (status === 404) return new ProviderError(`${this.name} found no such item (HTTP 404)${detail}`, status);
    if (status === 429) {
      const seconds = retryAfter(response.headers.get('retry-after'));
      const wait = seconds !== undefined ? ` Try again in ${seconds} s.` : ' Try again later.';
      return new ProviderError(`${this.name} is limiting requests (HTTP 429).${wait}`, status, seconds);
    }
    if (status >= 500) return new ProviderError(`${this.name} had an error (HTTP ${status}). Try again later.`, status);
    return new ProviderError(`${this.name} refused the request (HTTP ${status})${detail}`, status);
  }
}

/** The provider's own words about an error, from the shapes Google and Slack use, capped. */
function providerMessage(text: string): string | undefined {
  if (text.length > 64 * 1024) return undefined;
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    const error = body.error;
    const message =
      typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string'
        ? (error as { message: string }).message
        : typeof error === 'string'
          ? error
          : typeof body.message === 'string'
            ? body.message
            : undefined;
    return message?.slice(0, 300);
  } catch {
    return undefined;
  }
}

/** Retry-After in seconds: delta-seconds or an HTTP date. */
function retryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d{1,6}$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
