import type { CalendarEvent, EventTime } from './calendar-store.ts';

/** An event as a model reads it: times as plain strings, empty fields left out, long text capped. */
export interface EventView {
  id: string;
  summary: string;
  start: string;
  end: string;
  allDay?: true;
  timeZone?: string;
  status?: string;
  location?: string;
  description?: string;
  organizer?: string;
  attendees?: { email: string; name?: string; response: string; optional?: true }[];
  moreAttendees?: number;
  link?: string;
}

/**
 * The compact view of an event. Lists cap the description and the attendees so a page of events
 * stays small in the model's context; one event read on its own keeps more of both.
 */
export function eventView(event: CalendarEvent, limits: { descriptionChars: number; attendees: number }): EventView {
  const view: EventView = {
    id: event.id,
    summary: event.summary ?? '(no title)',
    start: timeText(event.start),
    end: timeText(event.end),
  };
  if ('date' in event.start) view.allDay = true;
  else if (event.start.timeZone) view.timeZone = event.start.timeZone;
  if (event.status !== 'confirmed') view.status = event.status;
  if (event.location) view.location = event.location;
  if (event.description) view.description = capped(event.description, limits.descriptionChars);
  const organizer = event.organizer?.email ?? event.organizer?.displayName;
  if (organizer) view.organizer = organizer;
  if (event.attendees.length > 0) {
    view.attendees = event.attendees.slice(0, limits.attendees).map((attendee) => ({
      email: attendee.email,
      ...(attendee.displayName ? { name: attendee.displayName } : {}),
      response: attendee.responseStatus,
      ...(attendee.optional ? { optional: true as const } : {}),
    }));
    if (event.attendees.length > limits.attendees) view.moreAttendees = event.attendees.length - limits.attendees;
  }
  if (event.htmlLink) view.link = event.htmlLink;
  return view;
}

function timeText(time: EventTime): string {
  return 'date' in time ? time.date : time.dateTime;
}

function capped(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars)}… (${text.length - chars} more characters: read the event)`;
}
