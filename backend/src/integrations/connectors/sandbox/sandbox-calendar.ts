import { randomBytes } from 'node:crypto';
import type { Attendee, CalendarBusy, CalendarEvent, CalendarInfo, CalendarStore, EventQuery, Page } from '../google-calendar/index.ts';
import { ProviderError } from '../provider-api.ts';
import { eventColumns, type SandboxData } from './sandbox-data.ts';
import { calendars, outsiders, sandboxUser, team } from './sandbox-team.ts';

const people = [...Object.values(team), ...Object.values(outsiders)];

/**
 * The sandbox user's calendars, kept in Agentry's database: Google Calendar's behaviour where the
 * Calendar tools rely on it (`primary` as an alias of the user's own calendar, events between two
 * times in start order, idempotent creation by a client-chosen id, a deleted event kept as
 * cancelled, writes refused on a calendar shared read-only, free/busy computed from the events,
 * for a colleague from the meetings they attend), with the user's rows only and a cap on how many.
 */
export class SandboxCalendar implements CalendarStore {
  private ready: Promise<void> | undefined;

  constructor(
    private readonly data: SandboxData,
    private readonly userId: string,
  ) {}

  async listCalendars(options: { pageToken?: string | undefined; maxResults: number }): Promise<Page<CalendarInfo>> {
    return paged(calendars, options.pageToken, options.maxResults);
  }

  async listEvents(query: EventQuery): Promise<Page<CalendarEvent>> {
    const calendarId = calendar(query.calendarId).id;
    await this.ensure();
    let select = this.data.database.db
      .selectFrom('sandbox_events')
      .select('event')
      .where('user_id', '=', this.userId)
      .where('calendar_id', '=', calendarId)
      .where('status', '<>', 'cancelled');
    if (query.timeMin) select = select.where('ends_at', '>', new Date(query.timeMin));
    if (query.timeMax) select = select.where('starts_at', '<', new Date(query.timeMax));
    const rows = await select.orderBy('starts_at').orderBy('id').execute();
    const words = query.query?.toLowerCase().split(/\s+/).filter(Boolean).slice(0, 20) ?? [];
    const events = rows
      .map((row) => row.event as unknown as CalendarEvent)
      .filter((event) => words.every((w) => searchText(event).includes(w)));
    return paged(events, query.pageToken, query.maxResults);
  }

  async getEvent(options: { calendarId: string; eventId: string }): Promise<CalendarEvent> {
    const event = await this.find(calendar(options.calendarId).id, options.eventId);
    if (!event) throw new ProviderError('Not Found: the calendar has no such event.', 404);
    return event;
  }

  /** `sendUpdates` changes nothing here: the sandbox's attendees get no mail. */
  async createEvent(options: Parameters<CalendarStore['createEvent']>[0]): Promise<{ event: CalendarEvent; created: boolean }> {
    const calendarId = writable(options.calendarId);
    const { id: wantedId, attendees, ...fields } = options.event;
    if (wantedId !== undefined && !/^[a-v0-9]{5,1024}$/.test(wantedId)) throw new ProviderError('Invalid resource id value.', 400);
    if (wantedId) {
      const existing = await this.find(calendarId, wantedId);
      if (existing?.status === 'cancelled') throw new ProviderError('The requested identifier already exists.', 409);
      if (existing) return { event: existing, created: false };
    }
    const now = new Date(this.data.time()).toISOString();
    const event: CalendarEvent = {
      ...fields,
      id: wantedId ?? randomBytes(13).toString('hex'),
      status: 'confirmed',
      attendees: (attendees ?? []).map(attendee),
      organizer: { email: sandboxUser.email, displayName: sandboxUser.name, self: true },
      updated: now,
    };
    await this.data.database.transaction(async (tx) => {
      await this.data.checkRoom(tx, this.userId, 'events');
      await tx
        .insertInto('sandbox_events')
        .values({ user_id: this.userId, calendar_id: calendarId, id: event.id, ...eventColumns(event) })
        .execute();
    });
    return { event, created: true };
  }

  async updateEvent(options: Parameters<CalendarStore['updateEvent']>[0]): Promise<CalendarEvent> {
    const calendarId = writable(options.calendarId);
    const current = await this.getEvent({ calendarId, eventId: options.eventId });
    if (current.status === 'cancelled') throw new ProviderError('Resource has been deleted.', 410);
    const { attendees, ...fields } = options.changes;
    const kept = (email: string) => current.attendees.find((a) => a.email.toLowerCase() === email.toLowerCase());
    const event: CalendarEvent = {
      ...current,
      ...fields,
      ...(attendees ? { attendees: attendees.map((a) => ({ ...(kept(a.email) ?? {}), ...attendee(a) })) } : {}),
      updated: new Date(this.data.time()).toISOString(),
    };
    await this.save(calendarId, event);
    return event;
  }

  async deleteEvent(options: Parameters<CalendarStore['deleteEvent']>[0]): Promise<{ alreadyDeleted: boolean }> {
    const calendarId = writable(options.calendarId);
    const current = await this.getEvent({ calendarId, eventId: options.eventId });
    if (current.status === 'cancelled') return { alreadyDeleted: true };
    await this.save(calendarId, { ...current, status: 'cancelled', updated: new Date(this.data.time()).toISOString() });
    return { alreadyDeleted: false };
  }

  async freeBusy(options: { calendarIds: readonly string[]; timeMin: string; timeMax: string }): Promise<Record<string, CalendarBusy>> {
    await this.ensure();
    const from = new Date(options.timeMin);
    const to = new Date(options.timeMax);
    const rows = await this.data.database.db
      .selectFrom('sandbox_events')
      .select(['calendar_id', 'event'])
      .where('user_id', '=', this.userId)
      .where('status', '<>', 'cancelled')
      .where('ends_at', '>', from)
      .where('starts_at', '<', to)
      .orderBy('starts_at')
      .execute();
    const clip = (time: string, bound: Date, later: boolean) =>
      (later ? Date.parse(time) > bound.getTime() : Date.parse(time) < bound.getTime()) ? bound.toISOString() : time;
    const answer: Record<string, CalendarBusy> = {};
    for (const id of options.calendarIds) {
      const own = lookup(id);
      const person = own ? undefined : people.find((p) => p.email.toLowerCase() === id.toLowerCase());
      if (!own && !person) {
        answer[id] = { busy: [], errors: ['notFound'] };
        continue;
      }
      const busy = rows
        .map((row) => ({ calendarId: row.calendar_id, event: row.event as unknown as CalendarEvent }))
        .filter(({ calendarId, event }) => {
          if (!('dateTime' in event.start) || !('dateTime' in event.end)) return false; // all-day events leave the time free
          const whose = own ? own.id : sandboxUser.email;
          const attendee = event.attendees.find((a) => a.email.toLowerCase() === (person?.email ?? sandboxUser.email));
          if (calendarId !== whose) return false;
          if (person) return Boolean(attendee) && attendee!.responseStatus !== 'declined';
          return attendee?.responseStatus !== 'declined';
        })
        .map(({ event }) => ({
          start: clip((event.start as { dateTime: string }).dateTime, from, false),
          end: clip((event.end as { dateTime: string }).dateTime, to, true),
        }));
      answer[id] = { busy };
    }
    return answer;
  }

  private async find(calendarId: string, eventId: string): Promise<CalendarEvent | undefined> {
    await this.ensure();
    const row = await this.data.database.db
      .selectFrom('sandbox_events')
      .select('event')
      .where('user_id', '=', this.userId)
      .where('calendar_id', '=', calendarId)
      .where('id', '=', eventId)
      .executeTakeFirst();
    return row?.event as unknown as CalendarEvent | undefined;
  }

  private async save(calendarId: string, event: CalendarEvent): Promise<void> {
    await this.data.database.db
      .updateTable('sandbox_events')
      .set(eventColumns(event))
      .where('user_id', '=', this.userId)
      .where('calendar_id', '=', calendarId)
      .where('id', '=', event.id)
      .execute();
  }

  private ensure(): Promise<void> {
    this.ready ??= this.data.ensure(this.userId).catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }
}

/** A calendar by id, `primary` being the user's own; undefined when the user has no such calendar. */
function lookup(id: string): CalendarInfo | undefined {
  return id === 'primary' ? calendars.find((c) => c.primary) : calendars.find((c) => c.id.toLowerCase() === id.toLowerCase());
}

function calendar(id: string): CalendarInfo {
  const found = lookup(id);
  if (!found) throw new ProviderError(`Not Found: there is no calendar "${id}" (see list_calendars).`, 404);
  return found;
}

function writable(id: string): string {
  const found = calendar(id);
  if (found.accessRole !== 'owner' && found.accessRole !== 'writer')
    throw new ProviderError(`You need to have writer access to this calendar ("${found.summary}" is shared read-only).`, 403);
  return found.id;
}

function attendee(entry: {
  email: string;
  optional?: boolean | undefined;
  responseStatus?: Attendee['responseStatus'] | undefined;
}): Attendee {
  const person = people.find((p) => p.email.toLowerCase() === entry.email.toLowerCase());
  const self = entry.email.toLowerCase() === sandboxUser.email;
  return {
    email: entry.email,
    ...(person ? { displayName: person.name } : {}),
    responseStatus: entry.responseStatus ?? (self ? 'accepted' : 'needsAction'),
    ...(entry.optional ? { optional: true } : {}),
    ...(self ? { self: true } : {}),
  };
}

function searchText(event: CalendarEvent): string {
  return [event.summary, event.description, event.location, ...event.attendees.flatMap((a) => [a.email, a.displayName])]
    .filter(Boolean)
    .join('\n')
    .toLowerCase();
}

function paged<T>(items: readonly T[], pageToken: string | undefined, max: number): Page<T> {
  if (pageToken !== undefined && !/^[0-9]{1,6}$/.test(pageToken)) throw new ProviderError('Invalid pageToken.', 400);
  const from = pageToken ? Number(pageToken) : 0;
  return { items: items.slice(from, from + max), ...(from + max < items.length ? { nextPageToken: String(from + max) } : {}) };
}
