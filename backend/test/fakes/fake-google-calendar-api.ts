import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Google Calendar API v3 on 127.0.0.1, written from Google's published reference
 * (developers.google.com/calendar/api/v3/reference): `calendarList.list`, `events.list` (timeMin,
 * timeMax, q, singleEvents, orderBy=startTime, pageToken, maxResults), `events.get`,
 * `events.insert` (client ids of base32hex, 409 `duplicate`), `events.patch` (nested objects
 * merged, arrays replaced), `events.delete` (410 once deleted) and `POST /freeBusy`, with Google's
 * error body `{error:{code,message,errors,status}}`. State is in memory; every request is recorded
 * with the bearer token it carried. Only tokens in `tokens` are accepted (others get 401), and
 * `failNext` makes the next answers fail the way Google does.
 */
export interface FakeGoogleCalendarApi {
  /** The API's base URL (`…/calendar/v3`), for `ProviderApi`'s `baseUrl`. */
  baseUrl: string;
  /** The access tokens accepted now; take one out to make it "expire". */
  tokens: Set<string>;
  requests: RecordedRequest[];
  /** The id `primary` stands for. */
  primaryId: string;
  addCalendar(calendar: { id: string; summary: string; timeZone?: string; accessRole?: string }): void;
  /** Puts an event straight into a calendar (as if made elsewhere); answers it as Google would. */
  addEvent(calendarId: string, event: Partial<FakeEvent> & Pick<FakeEvent, 'start' | 'end'>): FakeEvent;
  /** The calendar's events, deleted ones included (status `cancelled`). */
  events(calendarId: string): FakeEvent[];
  /** The next answers, one per request, whatever the request: Google's errors or a body that is not JSON. */
  failNext(...failures: Failure[]): void;
  close(): Promise<void>;
}

export interface RecordedRequest {
  method: string;
  /** The path below the base URL, decoded, e.g. `/calendars/primary/events`. */
  path: string;
  query: Record<string, string>;
  body: unknown;
  token: string | undefined;
}

export type Failure = { status: 401 | 403 | 404 | 429 | 500; retryAfter?: string } | 'garbage';

type EventTime = { dateTime?: string | null; date?: string | null; timeZone?: string | null };

export interface FakeEvent {
  kind: 'calendar#event';
  id: string;
  status: string;
  summary?: string;
  description?: string;
  location?: string;
  start: EventTime;
  end: EventTime;
  attendees?: { email: string; responseStatus: string; displayName?: string; optional?: boolean }[];
  organizer: { email: string; self?: boolean };
  transparency?: 'opaque' | 'transparent';
  htmlLink: string;
  created: string;
  updated: string;
  [field: string]: unknown;
}

const API_PREFIX = '/calendar/v3';
const googleErrors = {
  400: { status: 'INVALID_ARGUMENT', reason: 'badRequest', message: 'Bad Request' },
  401: {
    status: 'UNAUTHENTICATED',
    reason: 'authError',
    message:
      'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
  },
  403: { status: 'PERMISSION_DENIED', reason: 'insufficientPermissions', message: 'Request had insufficient authentication scopes.' },
  404: { status: 'NOT_FOUND', reason: 'notFound', message: 'Not Found' },
  409: { status: 'ALREADY_EXISTS', reason: 'duplicate', message: 'The requested identifier already exists.' },
  410: { status: 'FAILED_PRECONDITION', reason: 'deleted', message: 'Resource has been deleted' },
  429: { status: 'RESOURCE_EXHAUSTED', reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' },
  500: { status: 'INTERNAL', reason: 'backendError', message: 'Backend Error' },
} as const;

class GoogleError extends Error {
  constructor(
    readonly code: keyof typeof googleErrors,
    message?: string,
    readonly reason?: string,
  ) {
    super(message ?? googleErrors[code].message);
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const EVENT_ID = /^[a-v0-9]{5,1024}$/;

export async function startFakeGoogleCalendarApi(options: { primaryId?: string } = {}): Promise<FakeGoogleCalendarApi> {
  const primaryId = options.primaryId ?? 'ada@example.com';
  const calendars = new Map<
    string,
    { id: string; summary: string; timeZone: string; accessRole: string; events: Map<string, FakeEvent> }
  >();
  const failures: Failure[] = [];
  const requests: RecordedRequest[] = [];
  const tokens = new Set<string>();

  const calendarOf = (id: string) => {
    const calendar = calendars.get(id === 'primary' ? primaryId : id);
    if (!calendar) throw new GoogleError(404);
    return calendar;
  };
  const now = () => new Date().toISOString();
  /** A request body: an event resource or a freeBusy query, as the client sent it. */
  type Body = Partial<FakeEvent> & { timeMin?: unknown; timeMax?: unknown; items?: { id: string }[] };
  const newEvent = (calendarId: string, fields: Partial<FakeEvent> & Pick<FakeEvent, 'start' | 'end'>): FakeEvent => {
    const id = fields.id ?? randomBytes(13).toString('hex');
    return {
      kind: 'calendar#event',
      etag: `"${Date.now()}"`,
      status: 'confirmed',
      htmlLink: `https://www.google.com/calendar/event?eid=${Buffer.from(`${id} ${calendarId}`).toString('base64url')}`,
      created: now(),
      updated: now(),
      creator: { email: primaryId, self: true },
      organizer: { email: calendarId, self: true },
      iCalUID: `${id}@google.com`,
      sequence: 0,
      reminders: { useDefault: true },
      eventType: 'default',
      ...fields,
      id,
      attendees: fields.attendees?.map((a) => ({ ...a, responseStatus: a.responseStatus ?? 'needsAction' })),
    };
  };
  const instant = (time: EventTime) => Date.parse(time.dateTime ?? `${time.date}T00:00:00Z`);
  const page = <T>(items: T[], query: URLSearchParams, limits: { default: number; max: number }) => {
    const size = Math.min(Number(query.get('maxResults') ?? limits.default), limits.max);
    const token = query.get('pageToken');
    const offset = token === null ? 0 : Number(Buffer.from(token, 'base64url').toString('utf8').replace('offset:', ''));
    if (!Number.isInteger(offset) || offset < 0 || size < 1) throw new GoogleError(400, 'Invalid Value', 'invalid');
    const nextPageToken = offset + size < items.length ? Buffer.from(`offset:${offset + size}`).toString('base64url') : undefined;
    return { items: items.slice(offset, offset + size), ...(nextPageToken ? { nextPageToken } : {}) };
  };
  const checkTimes = (event: FakeEvent) => {
    if (!event.start?.dateTime && !event.start?.date) throw new GoogleError(400, 'Missing start time.', 'required');
    if (!event.end?.dateTime && !event.end?.date) throw new GoogleError(400, 'Missing end time.', 'required');
    if (!(instant(event.end) > instant(event.start))) throw new GoogleError(400, 'The specified time range is empty.', 'timeRangeEmpty');
  };

  const routes: {
    method: string;
    pattern: RegExp;
    run(match: string[], query: URLSearchParams, body: Body): { status: number; body?: unknown };
  }[] = [
    {
      method: 'GET',
      pattern: /^\/users\/me\/calendarList$/,
      run: (_, query) => {
        const entries = [...calendars.values()].map((c) => ({
          kind: 'calendar#calendarListEntry',
          etag: '"1"',
          id: c.id,
          summary: c.summary,
          timeZone: c.timeZone,
          accessRole: c.accessRole,
          backgroundColor: '#9fe1e7',
          ...(c.id === primaryId ? { primary: true } : {}),
        }));
        return { status: 200, body: { kind: 'calendar#calendarList', etag: '"1"', ...page(entries, query, { default: 100, max: 250 }) } };
      },
    },
    {
      method: 'GET',
      pattern: /^\/calendars\/([^/]+)\/events$/,
      run: ([calendarId], query) => {
        const calendar = calendarOf(calendarId!);
        if (query.get('orderBy') === 'startTime' && query.get('singleEvents') !== 'true')
          throw new GoogleError(400, 'The requested ordering is not available for the particular query.', 'invalid');
        for (const bound of ['timeMin', 'timeMax']) {
          const value = query.get(bound);
          if (value !== null && !RFC3339.test(value)) throw new GoogleError(400);
        }
        const from = query.has('timeMin') ? Date.parse(query.get('timeMin')!) : -Infinity;
        const to = query.has('timeMax') ? Date.parse(query.get('timeMax')!) : Infinity;
        const text = query.get('q')?.toLowerCase();
        const items = [...calendar.events.values()]
          .filter((e) => e.status !== 'cancelled' || query.get('showDeleted') === 'true')
          .filter((e) => instant(e.end) > from && instant(e.start) < to)
          .filter(
            (e) =>
              !text ||
              [e.summary, e.description, e.location, ...(e.attendees ?? []).map((a) => a.email)].some((f) =>
                f?.toLowerCase().includes(text),
              ),
          )
          .sort((a, b) => instant(a.start) - instant(b.start));
        const listed = page(items, query, { default: 250, max: 2500 });
        return {
          status: 200,
          body: {
            kind: 'calendar#events',
            summary: calendar.summary,
            timeZone: calendar.timeZone,
            updated: now(),
            accessRole: calendar.accessRole,
            ...listed,
          },
        };
      },
    },
    {
      method: 'GET',
      pattern: /^\/calendars\/([^/]+)\/events\/([^/]+)$/,
      run: ([calendarId, eventId]) => {
        const event = calendarOf(calendarId!).events.get(eventId!);
        if (!event) throw new GoogleError(404);
        return { status: 200, body: event };
      },
    },
    {
      method: 'POST',
      pattern: /^\/calendars\/([^/]+)\/events$/,
      run: ([calendarId], _, body) => {
        const calendar = calendarOf(calendarId!);
        if (body.id !== undefined && (typeof body.id !== 'string' || !EVENT_ID.test(body.id)))
          throw new GoogleError(400, 'Invalid resource id value.', 'invalid');
        if (body.id !== undefined && calendar.events.has(body.id)) throw new GoogleError(409);
        const event = newEvent(calendar.id, body as FakeEvent);
        checkTimes(event);
        calendar.events.set(event.id, event);
        return { status: 200, body: event };
      },
    },
    {
      method: 'PATCH',
      pattern: /^\/calendars\/([^/]+)\/events\/([^/]+)$/,
      run: ([calendarId, eventId], _, body) => {
        const calendar = calendarOf(calendarId!);
        const event = calendar.events.get(eventId!);
        if (!event) throw new GoogleError(404);
        const merged: FakeEvent = { ...event, ...body, id: event.id, updated: now(), sequence: Number(event.sequence) + 1 };
        for (const key of ['start', 'end'] as const) {
          if (body[key] === undefined) continue;
          const time: EventTime = { ...event[key], ...body[key] };
          for (const field of ['date', 'dateTime', 'timeZone'] as const) if (time[field] === null) delete time[field];
          merged[key] = time;
        }
        if (body.attendees)
          merged.attendees = body.attendees.map((a) => ({
            ...a,
            responseStatus: a.responseStatus ?? 'needsAction',
          }));
        checkTimes(merged);
        calendar.events.set(event.id, merged);
        return { status: 200, body: merged };
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/calendars\/([^/]+)\/events\/([^/]+)$/,
      run: ([calendarId, eventId]) => {
        const event = calendarOf(calendarId!).events.get(eventId!);
        if (!event) throw new GoogleError(404);
        if (event.status === 'cancelled') throw new GoogleError(410);
        event.status = 'cancelled';
        event.updated = now();
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      pattern: /^\/freeBusy$/,
      run: (_, __, body) => {
        if (typeof body.timeMin !== 'string' || !RFC3339.test(body.timeMin)) throw new GoogleError(400, 'Missing timeMin.', 'required');
        if (typeof body.timeMax !== 'string' || !RFC3339.test(body.timeMax)) throw new GoogleError(400, 'Missing timeMax.', 'required');
        const from = Date.parse(body.timeMin);
        const to = Date.parse(body.timeMax);
        if (!(to > from)) throw new GoogleError(400, 'The specified time range is empty.', 'timeRangeEmpty');
        const result: Record<string, unknown> = {};
        for (const { id } of body.items ?? []) {
          const calendar = calendars.get(id === 'primary' ? primaryId : id);
          if (!calendar) {
            result[id] = { errors: [{ domain: 'global', reason: 'notFound' }], busy: [] };
            continue;
          }
          const busy = [...calendar.events.values()]
            .filter((e) => e.status !== 'cancelled' && e.transparency !== 'transparent')
            .map((e) => ({ start: Math.max(instant(e.start), from), end: Math.min(instant(e.end), to) }))
            .filter((b) => b.end > b.start)
            .sort((a, b) => a.start - b.start)
            .reduce<{ start: number; end: number }[]>((merged, b) => {
              const last = merged[merged.length - 1];
              if (last && b.start <= last.end) last.end = Math.max(last.end, b.end);
              else merged.push({ ...b });
              return merged;
            }, []);
          const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
          result[id] = { busy: busy.map((b) => ({ start: iso(b.start), end: iso(b.end) })) };
        }
        return { status: 200, body: { kind: 'calendar#freeBusy', timeMin: body.timeMin, timeMax: body.timeMax, calendars: result } };
      },
    },
  ];

  const send = (res: http.ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    if (body === undefined) {
      res.writeHead(status, headers).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers }).end(JSON.stringify(body));
  };
  const sendError = (res: http.ServerResponse, error: GoogleError, headers: Record<string, string> = {}) => {
    const known = googleErrors[error.code];
    send(
      res,
      error.code,
      {
        error: {
          code: error.code,
          message: error.message,
          errors: [{ message: error.message, domain: 'global', reason: error.reason ?? known.reason }],
          status: known.status,
        },
      },
      headers,
    );
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const raw = Buffer.concat(chunks).toString('utf8');
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const path = url.pathname.startsWith(API_PREFIX) ? url.pathname.slice(API_PREFIX.length) : url.pathname;
      let body: unknown;
      try {
        body = raw === '' ? undefined : JSON.parse(raw);
      } catch {
        body = raw;
      }
      requests.push({
        method: req.method ?? 'GET',
        path: decodeURIComponent(path),
        query: Object.fromEntries(url.searchParams),
        body,
        token,
      });

      const failure = failures.shift();
      if (failure === 'garbage')
        return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Service Unavailable</body></html>');
      if (failure) return sendError(res, new GoogleError(failure.status), failure.retryAfter ? { 'retry-after': failure.retryAfter } : {});
      if (!token || !fake.tokens.has(token))
        return sendError(res, new GoogleError(401), { 'www-authenticate': 'Bearer realm="https://accounts.google.com/"' });
      if (!url.pathname.startsWith(API_PREFIX)) return sendError(res, new GoogleError(404));
      for (const route of routes) {
        const match = route.method === req.method ? route.pattern.exec(path) : null;
        if (!match) continue;
        try {
          const answer = route.run(match.slice(1).map(decodeURIComponent), url.searchParams, (body ?? {}) as Body);
          return send(res, answer.status, answer.body);
        } catch (error) {
          if (error instanceof GoogleError) return sendError(res, error);
          throw error;
        }
      }
      sendError(res, new GoogleError(404));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const fake: FakeGoogleCalendarApi = {
    baseUrl: `http://127.0.0.1:${port}${API_PREFIX}`,
    tokens,
    requests,
    primaryId,
    addCalendar: (calendar) => void calendars.set(calendar.id, { timeZone: 'UTC', accessRole: 'owner', ...calendar, events: new Map() }),
    addEvent: (calendarId, fields) => {
      const calendar = calendarOf(calendarId);
      const event = newEvent(calendar.id, fields);
      calendar.events.set(event.id, event);
      return event;
    },
    events: (calendarId) => [...calendarOf(calendarId).events.values()],
    failNext: (...next) => void failures.push(...next),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}
