import { createHash } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { toolRegistrar, type ToolSetOptions } from '../tool-set.ts';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ProviderError } from '../provider-api.ts';
import type { Attendee, CalendarStore, EventChanges, EventTime, NewEvent } from './calendar-store.ts';
import { eventView } from './event-view.ts';
import { findFreeSlots, formatInZone, isTimeZone, type WorkingHours } from './free-time.ts';

/** A request the tool refuses before calling the calendar, with words the model can correct it by. */
class InvalidRequest extends Error {}

const MINUTE = 60_000;
const MAX_FREE_BUSY_DAYS = 62;
const LIST_LIMITS = { descriptionChars: 300, attendees: 20 };
const ONE_EVENT_LIMITS = { descriptionChars: 8_000, attendees: 200 };

const dateTime = z.iso.datetime({ offset: true, error: 'expected an RFC 3339 date-time with an offset, e.g. 2025-03-10T09:00:00+01:00' });
const eventTimeText = z.union([dateTime, z.iso.date()], {
  error: 'expected an RFC 3339 date-time with an offset (2025-03-10T09:00:00+01:00) or, for an all-day event, a date (2025-03-10)',
});
const timeZone = z
  .string()
  .max(64)
  .refine(isTimeZone, { error: 'expected an IANA time zone such as Europe/Berlin or America/New_York' })
  .describe('IANA time zone, e.g. Europe/Berlin');
const calendarId = z.string().min(1).max(1024).default('primary').describe('Calendar id from list_calendars; "primary" is the user\'s own');
const eventId = z.string().min(1).max(1024).describe('Event id from list_events');
const pageToken = z.string().max(4096).optional().describe('nextPageToken from the previous page');
const email = z.email().max(320);
const sendUpdates = z
  .enum(['all', 'externalOnly', 'none'])
  .default('all')
  .describe('Who gets an email about the change: all attendees, only those outside Google Calendar, or nobody');
const clock = z
  .string()
  .regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, { error: 'expected a local time HH:MM, e.g. 09:00' })
  .describe('Local time HH:MM');
const eventFields = {
  summary: z.string().min(1).max(1024).describe('Title'),
  description: z.string().max(8_192).describe('Notes; plain text'),
  location: z.string().max(1024),
  start: eventTimeText.describe('Start: RFC 3339 date-time with offset, or YYYY-MM-DD for an all-day event'),
  end: eventTimeText.describe(
    'End (exclusive): RFC 3339 date-time with offset, or YYYY-MM-DD (the day after the last day) for an all-day event',
  ),
  timeZone: timeZone.describe('IANA zone the event is meant in (for a timed start and end), e.g. Europe/Berlin'),
  attendees: z.array(email).max(100).describe('Attendee email addresses'),
};

/**
 * The Calendar tools as an MCP server over any `CalendarStore`: Google Calendar for a connected
 * account, the sandbox's calendar without one. Every answer is compact JSON text, lists are paged,
 * and anything the calendar refuses (`ProviderError`) or the tool refuses comes back as a tool
 * error (`isError`) with a message the model can act on, never a failed call.
 */
export function calendarServer(store: CalendarStore, info: { name: string; version: string }): McpServer {
  const server = new McpServer(info, { capabilities: { tools: {} } });
  registerCalendarTools(server, store);
  return server;
}

/** The Calendar tools on a given server, named with `options.prefix` (the sandbox's server holds them beside others). */
export function registerCalendarTools(server: McpServer, store: CalendarStore, options: ToolSetOptions = {}): void {
  const register = toolRegistrar(server, options);
  const reads = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true };

  register(
    'list_calendars',
    {
      title: 'List calendars',
      description: 'Lists the calendars the user can see (own, shared, subscribed), with their ids, time zones and the primary one marked.',
      inputSchema: { maxResults: z.number().int().min(1).max(250).default(50), pageToken },
      annotations: reads,
    },
    async (args) =>
      run(async () => {
        const page = await store.listCalendars({ maxResults: args.maxResults, pageToken: args.pageToken });
        const calendars = page.items.map((c) => ({
          id: c.id,
          summary: c.summary,
          ...(c.primary ? { primary: true } : {}),
          ...(c.timeZone ? { timeZone: c.timeZone } : {}),
          ...(c.accessRole ? { accessRole: c.accessRole } : {}),
        }));
        return { calendars, ...next(page.nextPageToken) };
      }),
  );

  register(
    'list_events',
    {
      title: 'List events',
      description:
        'Lists events of one calendar in start-time order (recurring events expanded into their occurrences), optionally between timeMin and timeMax and matching a free-text query. Descriptions are shortened: use get_event for one event in full.',
      inputSchema: {
        calendarId,
        timeMin: dateTime.optional().describe('Only events ending after this RFC 3339 date-time'),
        timeMax: dateTime.optional().describe('Only events starting before this RFC 3339 date-time'),
        query: z.string().max(500).optional().describe('Free text matched against title, description, location and attendees'),
        maxResults: z.number().int().min(1).max(100).default(25),
        pageToken,
      },
      annotations: reads,
    },
    async (args) =>
      run(async () => {
        if (args.timeMin && args.timeMax) ordered(args.timeMin, args.timeMax);
        const page = await store.listEvents({
          calendarId: args.calendarId,
          timeMin: args.timeMin,
          timeMax: args.timeMax,
          query: args.query,
          maxResults: args.maxResults,
          pageToken: args.pageToken,
        });
        return { events: page.items.map((event) => eventView(event, LIST_LIMITS)), ...next(page.nextPageToken) };
      }),
  );

  register(
    'get_event',
    {
      title: 'Read an event',
      description: 'Reads one event in full: times, location, description, organizer, attendees and their responses, and its link.',
      inputSchema: { calendarId, eventId },
      annotations: reads,
    },
    async (args) => run(async () => ({ event: eventView(await store.getEvent(args), ONE_EVENT_LIMITS) })),
  );

  register(
    'find_free_time',
    {
      title: 'Find free time',
      description:
        'Finds free windows of at least durationMinutes between timeMin and timeMax in which none of the given calendars (default: the primary one) is busy, optionally only within working hours in a time zone. Answers the earliest windows first; when there are more, ask again from nextTimeMin.',
      inputSchema: {
        calendarIds: z
          .array(z.string().min(1).max(1024))
          .min(1)
          .max(50)
          .default(['primary'])
          .describe("Calendars (or people's email addresses) that must all be free"),
        timeMin: dateTime.describe('Start of the search, RFC 3339'),
        timeMax: dateTime.describe('End of the search, RFC 3339'),
        durationMinutes: z.number().int().min(5).max(1440).describe('Length of the meeting in minutes'),
        timeZone: timeZone.optional().describe("IANA zone for working hours and for the answer's times (default UTC)"),
        workingHoursStart: clock.optional().describe('Only free time after this local time (HH:MM), with workingHoursEnd'),
        workingHoursEnd: clock.optional().describe('Only free time before this local time (HH:MM), with workingHoursStart'),
        includeWeekends: z.boolean().default(false).describe('Whether working hours apply on Saturday and Sunday too'),
        maxSlots: z.number().int().min(1).max(50).default(5),
      },
      annotations: reads,
    },
    async (args) =>
      run(async () => {
        const from = Date.parse(args.timeMin);
        const to = ordered(args.timeMin, args.timeMax);
        if (to - from > MAX_FREE_BUSY_DAYS * 24 * 60 * MINUTE)
          throw new InvalidRequest(`Search at most ${MAX_FREE_BUSY_DAYS} days at a time: narrow timeMin and timeMax.`);
        const workingHours = working(args);
        const calendars = await store.freeBusy({ calendarIds: args.calendarIds, timeMin: args.timeMin, timeMax: args.timeMax });
        const unreadable = Object.entries(calendars).filter(([, c]) => c.errors?.length);
        if (unreadable.length > 0)
          throw new InvalidRequest(
            `The busy times of ${unreadable.map(([id, c]) => `${id} (${c.errors!.join(', ')})`).join('; ')} cannot be read: leave ${unreadable.length === 1 ? 'it' : 'them'} out or use calendars the user can see.`,
          );
        const busy = Object.values(calendars).flatMap((c) => c.busy);
        const found = findFreeSlots({ from, to, busy, durationMinutes: args.durationMinutes, workingHours, maxSlots: args.maxSlots });
        const slots = found.slots.map((slot) => ({
          start: formatInZone(slot.start, args.timeZone),
          end: formatInZone(slot.end, args.timeZone),
          minutes: Math.round((slot.end - slot.start) / MINUTE),
        }));
        return { slots, ...(found.more ? { nextTimeMin: slots[slots.length - 1]!.end } : {}) };
      }),
  );

  register(
    'create_event',
    {
      title: 'Create an event',
      description:
        'Creates an event (a meeting when attendees are given; they are invited by email unless sendUpdates says otherwise). Retrying a call with the same idempotency key creates the event once and answers the one created.',
      inputSchema: {
        calendarId,
        ...eventFields,
        description: eventFields.description.optional(),
        location: eventFields.location.optional(),
        timeZone: eventFields.timeZone.optional(),
        attendees: eventFields.attendees.optional(),
        sendUpdates,
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    async (args, extra) =>
      run(async () => {
        const start = eventTime(args.start, args.timeZone);
        const end = eventTime(args.end, args.timeZone);
        ordered(start, end);
        const key = extra._meta?.idempotencyKey;
        const event: NewEvent = {
          ...(typeof key === 'string' && key !== '' ? { id: eventIdFor(key) } : {}),
          summary: args.summary,
          description: args.description,
          location: args.location,
          start,
          end,
          attendees: args.attendees?.map((email) => ({ email })),
        };
        const result = await store.createEvent({ calendarId: args.calendarId, event, sendUpdates: args.sendUpdates });
        return { created: result.created, event: eventView(result.event, ONE_EVENT_LIMITS) };
      }),
  );

  register(
    'update_event',
    {
      title: 'Update an event',
      description:
        'Changes only the fields given of an existing event: title, description, location, start and end, or its attendees (replace the list, or add and remove addresses; others keep their responses).',
      inputSchema: {
        calendarId,
        eventId,
        summary: eventFields.summary.optional(),
        description: eventFields.description.optional(),
        location: eventFields.location.optional(),
        start: eventFields.start.optional(),
        end: eventFields.end.optional(),
        timeZone: eventFields.timeZone.optional(),
        attendees: eventFields.attendees.optional().describe('The whole new attendee list'),
        addAttendees: z.array(email).max(100).optional().describe('Addresses to invite'),
        removeAttendees: z.array(email).max(100).optional().describe('Addresses to remove'),
        sendUpdates,
      },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    },
    async (args) =>
      run(async () => {
        const changes: EventChanges = {};
        if (args.summary !== undefined) changes.summary = args.summary;
        if (args.description !== undefined) changes.description = args.description;
        if (args.location !== undefined) changes.location = args.location;
        if (args.start !== undefined) changes.start = eventTime(args.start, args.timeZone);
        if (args.end !== undefined) changes.end = eventTime(args.end, args.timeZone);
        if (args.timeZone !== undefined && !changes.start && !changes.end)
          throw new InvalidRequest('timeZone applies to a new start or end: give start and/or end with it.');
        const touchesAttendees = args.attendees !== undefined || args.addAttendees !== undefined || args.removeAttendees !== undefined;
        if (!touchesAttendees && Object.keys(changes).length === 0) throw new InvalidRequest('Nothing to change: give at least one field.');
        if (changes.start || changes.end || args.addAttendees || args.removeAttendees) {
          const current = await store.getEvent({ calendarId: args.calendarId, eventId: args.eventId });
          ordered(changes.start ?? current.start, changes.end ?? current.end);
          if (args.addAttendees || args.removeAttendees) changes.attendees = attendeeList(args.attendees ?? current.attendees, args);
        }
        if (args.attendees && !changes.attendees) changes.attendees = args.attendees.map((email) => ({ email }));
        const ids = { calendarId: args.calendarId, eventId: args.eventId };
        const event = await store.updateEvent({ ...ids, changes, sendUpdates: args.sendUpdates });
        return { event: eventView(event, ONE_EVENT_LIMITS) };
      }),
  );

  register(
    'delete_event',
    {
      title: 'Delete an event',
      description:
        'Deletes an event (cancels the meeting for its attendees when sendUpdates allows). Deleting an event already deleted changes nothing.',
      inputSchema: { calendarId, eventId, sendUpdates },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    },
    async (args) => run(async () => ({ deleted: true, ...(await store.deleteEvent(args)) })),
  );
}

/** The tool's answer, or its refusal as a tool error; anything else is a fault the SDK reports. */
async function run(work: () => Promise<object>): Promise<CallToolResult> {
  try {
    return { content: [{ type: 'text', text: JSON.stringify(await work()) }] };
  } catch (error) {
    if (error instanceof ProviderError || error instanceof InvalidRequest)
      return { content: [{ type: 'text', text: error.message }], isError: true };
    throw error;
  }
}

const next = (token: string | undefined) => (token ? { nextPageToken: token } : {});

/**
 * Google's client-chosen event id from the call's idempotency key: a SHA-256 in hex, whose digits
 * are all base32hex (`0-9a-v`) and 64 long, so a retried call names the same event.
 */
function eventIdFor(idempotencyKey: string): string {
  return createHash('sha256').update(`agentry-calendar-event\n${idempotencyKey}`).digest('hex');
}

function eventTime(text: string, zone: string | undefined): EventTime {
  if (!text.includes('T')) return { date: text };
  return { dateTime: text, ...(zone ? { timeZone: zone } : {}) };
}

/** Refuses an end that is not after its start (and mixed all-day and timed ends); answers the end in epoch ms. */
function ordered(start: string | EventTime, end: string | EventTime): number {
  const text = (time: string | EventTime) => (typeof time === 'string' ? time : 'date' in time ? time.date : time.dateTime);
  const allDay = (time: string | EventTime) => !text(time).includes('T');
  if (allDay(start) !== allDay(end))
    throw new InvalidRequest('Start and end must both be dates (an all-day event) or both be date-times: give both.');
  const from = allDay(start) ? Date.parse(`${text(start)}T00:00:00Z`) : Date.parse(text(start));
  const to = allDay(end) ? Date.parse(`${text(end)}T00:00:00Z`) : Date.parse(text(end));
  if (!(to > from)) throw new InvalidRequest(`The end (${text(end)}) must be after the start (${text(start)}).`);
  return to;
}

function working(args: {
  timeZone?: string | undefined;
  workingHoursStart?: string | undefined;
  workingHoursEnd?: string | undefined;
  includeWeekends: boolean;
}): WorkingHours | undefined {
  if (args.workingHoursStart === undefined && args.workingHoursEnd === undefined) return undefined;
  if (args.workingHoursStart === undefined || args.workingHoursEnd === undefined)
    throw new InvalidRequest('Give both workingHoursStart and workingHoursEnd, or neither.');
  if (args.timeZone === undefined)
    throw new InvalidRequest('Working hours need a timeZone (IANA, e.g. Europe/Berlin) to say whose hours they are.');
  const minute = (clockText: string) => Number(clockText.slice(0, 2)) * 60 + Number(clockText.slice(3, 5));
  const startMinute = minute(args.workingHoursStart);
  const endMinute = minute(args.workingHoursEnd);
  if (endMinute <= startMinute) throw new InvalidRequest('workingHoursEnd must be after workingHoursStart on the same day.');
  const days = new Set(args.includeWeekends ? [0, 1, 2, 3, 4, 5, 6] : [1, 2, 3, 4, 5]);
  return { timeZone: args.timeZone, startMinute, endMinute, days };
}

/** The attendee list after adding and removing addresses; those kept keep their responses. */
function attendeeList(
  base: readonly (Attendee | string)[],
  change: { addAttendees?: string[] | undefined; removeAttendees?: string[] | undefined },
): NonNullable<EventChanges['attendees']> {
  const removed = new Set((change.removeAttendees ?? []).map((address) => address.toLowerCase()));
  const list = base
    .map((entry) =>
      typeof entry === 'string' ? { email: entry } : { email: entry.email, optional: entry.optional, responseStatus: entry.responseStatus },
    )
    .filter((entry) => !removed.has(entry.email.toLowerCase()));
  for (const address of change.addAttendees ?? [])
    if (!list.some((entry) => entry.email.toLowerCase() === address.toLowerCase())) list.push({ email: address });
  return list;
}
