import { z } from 'zod';
import { ProviderError, type ProviderApi } from '../provider-api.ts';
import type {
  Attendee,
  CalendarBusy,
  CalendarEvent,
  CalendarInfo,
  CalendarStore,
  EventChanges,
  EventQuery,
  EventTime,
  NewEvent,
  Page,
  SendUpdates,
} from './calendar-store.ts';

/** Where Google Calendar API v3 lives; the `ProviderApi`'s base URL (tests point it at a fake on 127.0.0.1). */
export const GOOGLE_CALENDAR_API_BASE_URL = 'https://www.googleapis.com/calendar/v3';

/**
 * The OAuth scopes the tools need: `calendar.events` to create, change and delete events, and
 * `calendar.readonly` for the calendar list and free/busy, which `calendar.events` does not cover.
 */
export const GOOGLE_CALENDAR_SCOPES: readonly string[] = [
  'https://www.googleapis.com/auth/calendar.events',
  'https://www.googleapis.com/auth/calendar.readonly',
];

const eventTime = z.object({ dateTime: z.string().optional(), date: z.string().optional(), timeZone: z.string().optional() });

const calendarListEntry = z.object({
  id: z.string(),
  summary: z.string().optional(),
  summaryOverride: z.string().optional(),
  description: z.string().optional(),
  timeZone: z.string().optional(),
  primary: z.boolean().optional(),
  accessRole: z.string().optional(),
});

const event = z.object({
  id: z.string(),
  status: z.string().optional(),
  summary: z.string().optional(),
  description: z.string().optional(),
  location: z.string().optional(),
  start: eventTime.optional(),
  end: eventTime.optional(),
  attendees: z
    .array(
      z.object({
        email: z.string().optional(),
        displayName: z.string().optional(),
        responseStatus: z.enum(['needsAction', 'declined', 'tentative', 'accepted']).optional(),
        optional: z.boolean().optional(),
        organizer: z.boolean().optional(),
        self: z.boolean().optional(),
      }),
    )
    .optional(),
  organizer: z.object({ email: z.string().optional(), displayName: z.string().optional(), self: z.boolean().optional() }).optional(),
  htmlLink: z.string().optional(),
  updated: z.string().optional(),
});

const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item).optional(), nextPageToken: z.string().optional() });

const freeBusyAnswer = z.object({
  calendars: z.record(
    z.string(),
    z.object({
      busy: z.array(z.object({ start: z.string(), end: z.string() })).optional(),
      errors: z.array(z.object({ reason: z.string().optional() })).optional(),
    }),
  ),
});

/**
 * The calendar port over Google Calendar API v3, every call through the connection's `ProviderApi`
 * (bounded answers, the user's token only to Google, one renewal on 401). Google's 409 on a
 * client-chosen event id that exists means an earlier attempt created it, so creation returns that
 * event; its 410 on deleting a deleted event means the work is already done.
 */
export class GoogleCalendarStore implements CalendarStore {
  constructor(private readonly api: ProviderApi) {}

  async listCalendars(options: { pageToken?: string | undefined; maxResults: number }): Promise<Page<CalendarInfo>> {
    const answer = await this.api.request(pageOf(calendarListEntry), {
      path: '/users/me/calendarList',
      query: { maxResults: options.maxResults, pageToken: options.pageToken },
    });
    return {
      items: (answer.items ?? []).map((entry) => ({
        id: entry.id,
        summary: entry.summaryOverride ?? entry.summary ?? entry.id,
        description: entry.description,
        timeZone: entry.timeZone,
        primary: entry.primary === true,
        accessRole: entry.accessRole,
      })),
      nextPageToken: answer.nextPageToken,
    };
  }

  async listEvents(query: EventQuery): Promise<Page<CalendarEvent>> {
    const answer = await this.api.request(pageOf(event), {
      path: `${eventsPath(query.calendarId)}`,
      query: {
        timeMin: query.timeMin,
        timeMax: query.timeMax,
        q: query.query,
        singleEvents: true,
        orderBy: 'startTime',
        pageToken: query.pageToken,
        maxResults: query.maxResults,
      },
    });
    return { items: (answer.items ?? []).map(toEvent), nextPageToken: answer.nextPageToken };
  }

  async getEvent(options: { calendarId: string; eventId: string }): Promise<CalendarEvent> {
    return toEvent(await this.api.request(event, { path: eventPath(options.calendarId, options.eventId) }));
  }

  async createEvent(options: {
    calendarId: string;
    event: NewEvent;
    sendUpdates: SendUpdates;
  }): Promise<{ event: CalendarEvent; created: boolean }> {
    try {
      const created = await this.api.request(event, {
        method: 'POST',
        path: eventsPath(options.calendarId),
        query: { sendUpdates: options.sendUpdates },
        body: toGoogleEvent(options.event, { patch: false }),
      });
      return { event: toEvent(created), created: true };
    } catch (error) {
      const id = options.event.id;
      if (!(error instanceof ProviderError) || error.status !== 409 || id === undefined) throw error;
      return { event: await this.getEvent({ calendarId: options.calendarId, eventId: id }), created: false };
    }
  }

  async updateEvent(options: {
    calendarId: string;
    eventId: string;
    changes: EventChanges;
    sendUpdates: SendUpdates;
  }): Promise<CalendarEvent> {
    const updated = await this.api.request(event, {
      method: 'PATCH',
      path: eventPath(options.calendarId, options.eventId),
      query: { sendUpdates: options.sendUpdates },
      body: toGoogleEvent(options.changes, { patch: true }),
    });
    return toEvent(updated);
  }

  async deleteEvent(options: { calendarId: string; eventId: string; sendUpdates: SendUpdates }): Promise<{ alreadyDeleted: boolean }> {
    try {
      await this.api.request(z.unknown(), {
        method: 'DELETE',
        path: eventPath(options.calendarId, options.eventId),
        query: { sendUpdates: options.sendUpdates },
      });
      return { alreadyDeleted: false };
    } catch (error) {
      if (error instanceof ProviderError && error.status === 410) return { alreadyDeleted: true };
      throw error;
    }
  }

  async freeBusy(options: { calendarIds: readonly string[]; timeMin: string; timeMax: string }): Promise<Record<string, CalendarBusy>> {
    const answer = await this.api.request(freeBusyAnswer, {
      method: 'POST',
      path: '/freeBusy',
      body: { timeMin: options.timeMin, timeMax: options.timeMax, items: options.calendarIds.map((id) => ({ id })) },
    });
    const result: Record<string, CalendarBusy> = {};
    for (const [id, calendar] of Object.entries(answer.calendars)) {
      const errors = (calendar.errors ?? []).map((error) => error.reason ?? 'unknown');
      result[id] = { busy: calendar.busy ?? [], ...(errors.length > 0 ? { errors } : {}) };
    }
    return result;
  }
}

const eventsPath = (calendarId: string) => `/calendars/${encodeURIComponent(calendarId)}/events`;
const eventPath = (calendarId: string, eventId: string) => `${eventsPath(calendarId)}/${encodeURIComponent(eventId)}`;

function toEventTime(time: z.infer<typeof eventTime> | undefined): EventTime {
  if (time?.dateTime !== undefined) return { dateTime: time.dateTime, ...(time.timeZone ? { timeZone: time.timeZone } : {}) };
  if (time?.date !== undefined) return { date: time.date };
  throw new ProviderError('Google Calendar answered an event without a start or end time.', 502);
}

function toEvent(answer: z.infer<typeof event>): CalendarEvent {
  const attendees: Attendee[] = (answer.attendees ?? []).flatMap((a) =>
    a.email === undefined
      ? []
      : [
          {
            email: a.email,
            displayName: a.displayName,
            responseStatus: a.responseStatus ?? 'needsAction',
            optional: a.optional,
            organizer: a.organizer,
            self: a.self,
          },
        ],
  );
  return {
    id: answer.id,
    status: answer.status ?? 'confirmed',
    summary: answer.summary,
    description: answer.description,
    location: answer.location,
    start: toEventTime(answer.start),
    end: toEventTime(answer.end),
    attendees,
    organizer: answer.organizer,
    htmlLink: answer.htmlLink,
    updated: answer.updated,
  };
}

/**
 * The request body Google expects: only the fields given, so a patch leaves the others alone. A
 * patch merges nested objects, so a time that turns from timed to all-day (or back) clears the
 * other form explicitly.
 */
function toGoogleEvent(fields: EventChanges & { id?: string | undefined }, options: { patch: boolean }): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const key of ['id', 'summary', 'description', 'location', 'attendees'] as const) {
    if (fields[key] !== undefined) body[key] = fields[key];
  }
  for (const key of ['start', 'end'] as const) {
    const time = fields[key];
    if (time === undefined) continue;
    body[key] = !options.patch ? time : 'date' in time ? { ...time, dateTime: null, timeZone: null } : { date: null, ...time };
  }
  return body;
}
