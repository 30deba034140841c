/**
 * The calendar the Calendar tools work on, as a small port: Google Calendar over its REST API
 * implements it (`GoogleCalendarStore`), and so does the keyless sandbox over Agentry's database,
 * so both serve the same tools through the same server code (`calendarServer`).
 *
 * The shapes follow Google Calendar's (ids, RFC 3339 times, all-day dates, attendees with their
 * response status) without any REST detail. An implementation reports a failure the user or the
 * model can act on (no such calendar or event, a missing permission, a busy provider) as a
 * `ProviderError` from `../provider-api.ts`: the server turns it into a tool error with its message.
 */
export interface CalendarStore {
  /** The calendars the user sees, the primary one marked. */
  listCalendars(options: { pageToken?: string | undefined; maxResults: number }): Promise<Page<CalendarInfo>>;
  /** Single events (recurring ones expanded) of one calendar, ordered by start time, not cancelled ones. */
  listEvents(query: EventQuery): Promise<Page<CalendarEvent>>;
  /** One event by id; a 404 `ProviderError` when the calendar has no such event. */
  getEvent(options: { calendarId: string; eventId: string }): Promise<CalendarEvent>;
  /**
   * Creates an event. With `event.id` the call is idempotent: when the calendar already holds an
   * event of that id (created by an earlier attempt), that event is returned with `created: false`.
   */
  createEvent(options: {
    calendarId: string;
    event: NewEvent;
    sendUpdates: SendUpdates;
  }): Promise<{ event: CalendarEvent; created: boolean }>;
  /** Changes only the fields given; `attendees`, when given, replaces the list. */
  updateEvent(options: { calendarId: string; eventId: string; changes: EventChanges; sendUpdates: SendUpdates }): Promise<CalendarEvent>;
  /** Deletes an event; `alreadyDeleted` when an earlier call deleted it. */
  deleteEvent(options: { calendarId: string; eventId: string; sendUpdates: SendUpdates }): Promise<{ alreadyDeleted: boolean }>;
  /** Busy intervals of each calendar between `timeMin` and `timeMax` (clipped to them), keyed by calendar id. */
  freeBusy(options: { calendarIds: readonly string[]; timeMin: string; timeMax: string }): Promise<Record<string, CalendarBusy>>;
}

/** A page of results and, when there are more, the token that fetches the next one. */
export interface Page<T> {
  items: T[];
  nextPageToken?: string | undefined;
}

export interface CalendarInfo {
  /** `primary` is always accepted as an alias of the user's primary calendar. */
  id: string;
  summary: string;
  description?: string | undefined;
  /** The calendar's IANA time zone. */
  timeZone?: string | undefined;
  primary: boolean;
  /** `owner`, `writer`, `reader` or `freeBusyReader`. */
  accessRole?: string | undefined;
}

/** A timed moment (RFC 3339 with an offset, and optionally the zone it is meant in) or an all-day date (`YYYY-MM-DD`). */
export type EventTime = { dateTime: string; timeZone?: string | undefined } | { date: string };

export type ResponseStatus = 'needsAction' | 'declined' | 'tentative' | 'accepted';

export interface Attendee {
  email: string;
  displayName?: string | undefined;
  responseStatus: ResponseStatus;
  optional?: boolean | undefined;
  organizer?: boolean | undefined;
  /** This attendee is the calendar's own user. */
  self?: boolean | undefined;
}

export interface CalendarEvent {
  id: string;
  /** `confirmed`, `tentative` or `cancelled`. */
  status: string;
  summary?: string | undefined;
  description?: string | undefined;
  location?: string | undefined;
  start: EventTime;
  /** Exclusive: an all-day event on the 10th ends on the 11th. */
  end: EventTime;
  attendees: Attendee[];
  organizer?: { email?: string | undefined; displayName?: string | undefined; self?: boolean | undefined } | undefined;
  /** The event in the provider's own web interface. */
  htmlLink?: string | undefined;
  updated?: string | undefined;
}

export interface EventQuery {
  calendarId: string;
  /** Events that end after this moment (RFC 3339). */
  timeMin?: string | undefined;
  /** Events that start before this moment (RFC 3339). */
  timeMax?: string | undefined;
  /** Free text matched against summary, description, location and attendees. */
  query?: string | undefined;
  pageToken?: string | undefined;
  maxResults: number;
}

export interface NewEvent {
  /** The client-chosen id (base32hex `a-v0-9`, 5–1024 characters) that makes creation idempotent. */
  id?: string | undefined;
  summary: string;
  description?: string | undefined;
  location?: string | undefined;
  start: EventTime;
  end: EventTime;
  attendees?: { email: string; optional?: boolean | undefined; responseStatus?: ResponseStatus | undefined }[] | undefined;
}

export type EventChanges = Partial<Omit<NewEvent, 'id'>>;

/** Who is told about a change: every attendee, only those outside the provider, or nobody. */
export type SendUpdates = 'all' | 'externalOnly' | 'none';

export interface BusyInterval {
  start: string;
  end: string;
}

export interface CalendarBusy {
  busy: BusyInterval[];
  /** Why the calendar's busy times could not be read (`notFound`, `notAllowed`), when they could not. */
  errors?: string[] | undefined;
}
