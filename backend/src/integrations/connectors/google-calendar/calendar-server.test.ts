import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeGoogleCalendarApi, type FakeGoogleCalendarApi } from '../../../../test/fakes/fake-google-calendar-api.ts';
import { ProviderApi } from '../provider-api.ts';
import { googleCalendarServer } from './index.ts';

let fake: FakeGoogleCalendarApi;
let client: Client;
/** The token the connection holds, and what it renews to when Google refuses it. */
let tokens: { current: string; renewed: string | undefined; rejected: (string | undefined)[] };

beforeEach(async () => {
  fake = await startFakeGoogleCalendarApi({ primaryId: 'ada@example.com' });
  fake.addCalendar({ id: 'ada@example.com', summary: 'Ada Lovelace', timeZone: 'Europe/Berlin' });
  fake.addCalendar({ id: 'team@group.calendar.google.com', summary: 'Team', timeZone: 'America/New_York', accessRole: 'reader' });
  fake.tokens.add('token-1');
  tokens = { current: 'token-1', renewed: undefined, rejected: [] };
  const api = new ProviderApi({
    name: 'Google Calendar',
    baseUrl: fake.baseUrl,
    fetch: globalThis.fetch,
    token: async (rejected) => {
      if (rejected === undefined) return tokens.current;
      tokens.rejected.push(rejected);
      if (tokens.renewed) tokens.current = tokens.renewed;
      return tokens.renewed;
    },
    timeoutMs: 5_000,
    maxResponseBytes: 1024 * 1024,
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await googleCalendarServer(api).connect(serverSide);
  client = new Client({ name: 'calendar-test', version: '1.0.0' });
  await client.connect(clientSide);
});

afterEach(async () => {
  await client.close();
  await fake.close();
});

/**
 * Calls a tool; answers its JSON, or its error text when it is a tool error. The JSON is read
 * structurally by each test, hence `any`.
 */
async function call(name: string, args: Record<string, unknown>, idempotencyKey?: string) {
  const result = await client.callTool({ name, arguments: args, ...(idempotencyKey ? { _meta: { idempotencyKey } } : {}) });
  const text = (result.content as { type: string; text: string }[])[0]!.text;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return result.isError ? { error: text, json: undefined as any } : { error: undefined, json: JSON.parse(text) };
}

const apiCalls = () => fake.requests.map((r) => `${r.method} ${r.path}`);

describe('Google Calendar tools', () => {
  it('lists its tools with titles and truthful annotations', async () => {
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(Object.keys(byName).sort()).toEqual(
      ['create_event', 'delete_event', 'find_free_time', 'get_event', 'list_calendars', 'list_events', 'update_event'].sort(),
    );
    for (const tool of tools) {
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.description!.length, tool.name).toBeGreaterThan(40);
      expect(tool.annotations?.openWorldHint, tool.name).toBe(true);
    }
    for (const name of ['list_calendars', 'list_events', 'get_event', 'find_free_time'])
      expect(byName[name]!.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(byName.create_event!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: true });
    expect(byName.update_event!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: true });
    expect(byName.delete_event!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: true });
  });

  it('list_calendars pages through the calendar list, the primary one marked', async () => {
    const first = await call('list_calendars', { maxResults: 1 });
    expect(first.json.calendars).toEqual([
      { id: 'ada@example.com', summary: 'Ada Lovelace', primary: true, timeZone: 'Europe/Berlin', accessRole: 'owner' },
    ]);
    expect(first.json.nextPageToken).toBeTruthy();
    const second = await call('list_calendars', { maxResults: 1, pageToken: first.json.nextPageToken });
    expect(second.json.calendars.map((c: { id: string }) => c.id)).toEqual(['team@group.calendar.google.com']);
    expect(second.json.nextPageToken).toBeUndefined();
    expect(fake.requests[0]).toMatchObject({ method: 'GET', path: '/users/me/calendarList', query: { maxResults: '1' }, token: 'token-1' });
  });

  it('list_events lists single events in start order between two times, matching a query, a page at a time', async () => {
    fake.addEvent('primary', {
      summary: 'Later sync',
      start: { dateTime: '2025-03-10T15:00:00Z' },
      end: { dateTime: '2025-03-10T16:00:00Z' },
    });
    fake.addEvent('primary', {
      summary: 'Design review',
      description: 'x'.repeat(1000),
      location: 'Room 1',
      start: { dateTime: '2025-03-10T09:00:00Z' },
      end: { dateTime: '2025-03-10T10:00:00Z' },
      attendees: [{ email: 'grace@example.com', responseStatus: 'accepted' }],
    });
    fake.addEvent('primary', {
      summary: 'Out of range',
      start: { dateTime: '2025-03-12T09:00:00Z' },
      end: { dateTime: '2025-03-12T10:00:00Z' },
    });
    fake.addEvent('primary', { summary: 'Holiday', start: { date: '2025-03-10' }, end: { date: '2025-03-11' } });
    const range = { timeMin: '2025-03-10T00:00:00Z', timeMax: '2025-03-11T00:00:00+00:00' };

    const first = await call('list_events', { ...range, maxResults: 2 });
    expect(first.json.events.map((e: { summary: string }) => e.summary)).toEqual(['Holiday', 'Design review']);
    expect(first.json.events[0]).toMatchObject({ start: '2025-03-10', end: '2025-03-11', allDay: true });
    const review = first.json.events[1];
    expect(review).toMatchObject({ location: 'Room 1', attendees: [{ email: 'grace@example.com', response: 'accepted' }] });
    expect(review.description.length).toBeLessThan(400);
    const second = await call('list_events', { ...range, maxResults: 2, pageToken: first.json.nextPageToken });
    expect(second.json.events.map((e: { summary: string }) => e.summary)).toEqual(['Later sync']);
    expect(second.json.nextPageToken).toBeUndefined();
    expect(fake.requests[0]!.query).toMatchObject({ ...range, singleEvents: 'true', orderBy: 'startTime', maxResults: '2' });

    const found = await call('list_events', { query: 'grace@' });
    expect(found.json.events.map((e: { summary: string }) => e.summary)).toEqual(['Design review']);

    const backwards = await call('list_events', { timeMin: range.timeMax, timeMax: range.timeMin });
    expect(backwards.error).toMatch(/end .* must be after the start/);
    const notRfc3339 = await call('list_events', { timeMin: '2025-03-10 09:00' });
    expect(notRfc3339.error).toMatch(/RFC 3339/);
    expect(fake.requests).toHaveLength(3);
  });

  it('get_event reads one event in full; an unknown id is a clear tool error', async () => {
    const event = fake.addEvent('team@group.calendar.google.com', {
      summary: 'Planning',
      description: 'y'.repeat(1000),
      start: { dateTime: '2025-03-10T09:00:00-04:00', timeZone: 'America/New_York' },
      end: { dateTime: '2025-03-10T10:00:00-04:00', timeZone: 'America/New_York' },
    });
    const read = await call('get_event', { calendarId: 'team@group.calendar.google.com', eventId: event.id });
    expect(read.json.event).toMatchObject({ id: event.id, summary: 'Planning', timeZone: 'America/New_York', link: event.htmlLink });
    expect(read.json.event.description).toBe('y'.repeat(1000));
    expect(fake.requests[0]!.path).toBe(`/calendars/team@group.calendar.google.com/events/${event.id}`);

    const missing = await call('get_event', { eventId: 'nosuchevent' });
    expect(missing.error).toMatch(/Google Calendar found no such item \(HTTP 404\)/);
  });

  it('find_free_time finds windows free in every calendar, inside working hours in a time zone', async () => {
    // Monday 10 March 2025: New York is on daylight time (UTC-4), so 09:00–17:00 there is 13:00–21:00 UTC.
    fake.addEvent('primary', { summary: 'A', start: { dateTime: '2025-03-10T14:00:00Z' }, end: { dateTime: '2025-03-10T15:00:00Z' } });
    fake.addEvent('team@group.calendar.google.com', {
      summary: 'B',
      start: { dateTime: '2025-03-10T10:30:00-04:00' },
      end: { dateTime: '2025-03-10T12:00:00-04:00' },
    });
    fake.addEvent('primary', { summary: 'C', start: { dateTime: '2025-03-10T19:00:00Z' }, end: { dateTime: '2025-03-10T21:30:00Z' } });
    fake.addEvent('primary', {
      summary: 'Free',
      transparency: 'transparent',
      start: { dateTime: '2025-03-11T13:00:00Z' },
      end: { dateTime: '2025-03-11T21:00:00Z' },
    });
    const free = await call('find_free_time', {
      calendarIds: ['primary', 'team@group.calendar.google.com'],
      timeMin: '2025-03-10T00:00:00Z', // Sunday evening in New York: no working hours
      timeMax: '2025-03-12T00:00:00Z',
      durationMinutes: 60,
      timeZone: 'America/New_York',
      workingHoursStart: '09:00',
      workingHoursEnd: '17:00',
    });
    expect(free.json).toEqual({
      slots: [
        { start: '2025-03-10T09:00:00-04:00', end: '2025-03-10T10:00:00-04:00', minutes: 60 },
        { start: '2025-03-10T12:00:00-04:00', end: '2025-03-10T15:00:00-04:00', minutes: 180 },
        { start: '2025-03-11T09:00:00-04:00', end: '2025-03-11T17:00:00-04:00', minutes: 480 },
      ],
    });
    expect(fake.requests[0]).toMatchObject({
      method: 'POST',
      path: '/freeBusy',
      body: {
        timeMin: '2025-03-10T00:00:00Z',
        timeMax: '2025-03-12T00:00:00Z',
        items: [{ id: 'primary' }, { id: 'team@group.calendar.google.com' }],
      },
    });
  });

  it('find_free_time follows daylight saving, stops at maxSlots and says where to go on', async () => {
    // Berlin moves to summer time on Sunday 30 March 2025: 09:00 is 08:00 UTC on Friday and 07:00 UTC on Monday.
    fake.addEvent('primary', {
      summary: 'Busy',
      start: { dateTime: '2025-03-28T10:00:00+01:00' },
      end: { dateTime: '2025-03-28T16:00:00+01:00' },
    });
    const args = { timeMin: '2025-03-28T00:00:00Z', timeMax: '2025-04-02T00:00:00Z', durationMinutes: 30, timeZone: 'Europe/Berlin' };
    const hours = { workingHoursStart: '09:00', workingHoursEnd: '17:00' };
    const first = await call('find_free_time', { ...args, ...hours, maxSlots: 2 });
    expect(first.json).toEqual({
      slots: [
        { start: '2025-03-28T09:00:00+01:00', end: '2025-03-28T10:00:00+01:00', minutes: 60 },
        { start: '2025-03-28T16:00:00+01:00', end: '2025-03-28T17:00:00+01:00', minutes: 60 },
      ],
      nextTimeMin: '2025-03-28T17:00:00+01:00',
    });
    const next = await call('find_free_time', { ...args, ...hours, timeMin: first.json.nextTimeMin, maxSlots: 1 });
    expect(next.json.slots).toEqual([{ start: '2025-03-31T09:00:00+02:00', end: '2025-03-31T17:00:00+02:00', minutes: 480 }]);

    const weekend = await call('find_free_time', {
      ...args,
      ...hours,
      includeWeekends: true,
      timeMin: '2025-03-30T00:00:00Z',
      maxSlots: 1,
    });
    expect(weekend.json.slots[0].start).toBe('2025-03-30T09:00:00+02:00');
    // A night shift in New York on the night its clocks skip 02:00–03:00 (9 March 2025, 07:00 UTC).
    const night = { timeMin: '2025-03-09T00:00:00Z', timeMax: '2025-03-10T00:00:00Z', durationMinutes: 30, timeZone: 'America/New_York' };
    const shift = await call('find_free_time', { ...night, workingHoursStart: '03:00', workingHoursEnd: '05:00', includeWeekends: true });
    expect(shift.json.slots).toEqual([{ start: '2025-03-09T03:00:00-04:00', end: '2025-03-09T05:00:00-04:00', minutes: 120 }]);

    expect((await call('find_free_time', { ...args, timeZone: 'Mars/Olympus' })).error).toMatch(/IANA time zone/);
    expect((await call('find_free_time', { ...args, workingHoursStart: '09:00' })).error).toMatch(
      /both workingHoursStart and workingHoursEnd/,
    );
    expect((await call('find_free_time', { ...args, timeMax: args.timeMin })).error).toMatch(/must be after the start/);
    expect((await call('find_free_time', { ...args, calendarIds: ['nobody@example.com'] })).error).toMatch(
      /nobody@example.com \(notFound\)/,
    );
  });

  it('create_event creates the event on the calendar and invites its attendees', async () => {
    const created = await call('create_event', {
      summary: 'Kick-off',
      start: '2025-03-10T09:00:00+01:00',
      end: '2025-03-10T10:00:00+01:00',
      timeZone: 'Europe/Berlin',
      location: 'Room 2',
      attendees: ['grace@example.com'],
    });
    expect(created.json).toMatchObject({ created: true, event: { summary: 'Kick-off', timeZone: 'Europe/Berlin' } });
    const held = fake.events('primary');
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({
      id: created.json.event.id,
      summary: 'Kick-off',
      location: 'Room 2',
      start: { dateTime: '2025-03-10T09:00:00+01:00', timeZone: 'Europe/Berlin' },
      attendees: [{ email: 'grace@example.com', responseStatus: 'needsAction' }],
    });
    expect(fake.requests[0]!.query).toEqual({ sendUpdates: 'all' });

    const backwards = await call('create_event', { summary: 'No', start: '2025-03-10T10:00:00Z', end: '2025-03-10T09:00:00Z' });
    expect(backwards.error).toMatch(/must be after the start/);
    const mixed = await call('create_event', { summary: 'No', start: '2025-03-10', end: '2025-03-10T09:00:00Z' });
    expect(mixed.error).toMatch(/both be dates/);
    expect(fake.events('primary')).toHaveLength(1);
  });

  it('create_event called twice with one idempotency key creates one event and answers it both times', async () => {
    const args = { summary: 'Retry me', start: '2025-03-10', end: '2025-03-11', sendUpdates: 'none' };
    const first = await call('create_event', args, 'turn-7-call-2');
    const again = await call('create_event', args, 'turn-7-call-2');
    expect(first.json.created).toBe(true);
    expect(again.json).toMatchObject({ created: false, event: { id: first.json.event.id, summary: 'Retry me', allDay: true } });
    expect(fake.events('primary')).toHaveLength(1);
    expect(first.json.event.id).toMatch(/^[a-v0-9]{5,1024}$/);
    expect(apiCalls()).toEqual([
      'POST /calendars/primary/events',
      'POST /calendars/primary/events',
      `GET /calendars/primary/events/${first.json.event.id}`,
    ]);

    await call('create_event', args, 'turn-7-call-3');
    expect(fake.events('primary')).toHaveLength(2);
  });

  it('update_event changes only the fields given and keeps attendees’ responses', async () => {
    const event = fake.addEvent('primary', {
      summary: 'Standup',
      location: 'Room 3',
      start: { dateTime: '2025-03-10T09:00:00Z' },
      end: { dateTime: '2025-03-10T09:15:00Z' },
      attendees: [
        { email: 'grace@example.com', responseStatus: 'accepted' },
        { email: 'alan@example.com', responseStatus: 'declined' },
      ],
    });
    const renamed = await call('update_event', { eventId: event.id, summary: 'Daily standup' });
    expect(renamed.json.event).toMatchObject({ summary: 'Daily standup', location: 'Room 3' });
    expect(fake.requests.at(-1)).toMatchObject({ method: 'PATCH', body: { summary: 'Daily standup' }, query: { sendUpdates: 'all' } });

    await call('update_event', { eventId: event.id, addAttendees: ['edsger@example.com'], removeAttendees: ['ALAN@example.com'] });
    expect(fake.events('primary')[0]!.attendees).toEqual([
      { email: 'grace@example.com', responseStatus: 'accepted' },
      { email: 'edsger@example.com', responseStatus: 'needsAction' },
    ]);

    const allDay = await call('update_event', { eventId: event.id, start: '2025-03-11', end: '2025-03-12' });
    expect(allDay.json.event).toMatchObject({ start: '2025-03-11', end: '2025-03-12', allDay: true });
    expect(fake.events('primary')[0]).toMatchObject({ start: { date: '2025-03-11' }, end: { date: '2025-03-12' }, location: 'Room 3' });

    expect((await call('update_event', { eventId: event.id, end: '2025-03-10' })).error).toMatch(/must be after the start/);
    expect((await call('update_event', { eventId: event.id })).error).toMatch(/Nothing to change/);
    expect(fake.events('primary')[0]).toMatchObject({ summary: 'Daily standup', end: { date: '2025-03-12' } });
  });

  it('delete_event deletes the event; deleting it again changes nothing and is no error', async () => {
    const event = fake.addEvent('primary', { summary: 'Cancelled', start: { date: '2025-03-10' }, end: { date: '2025-03-11' } });
    expect((await call('delete_event', { eventId: event.id, sendUpdates: 'none' })).json).toEqual({ deleted: true, alreadyDeleted: false });
    expect(fake.events('primary')[0]!.status).toBe('cancelled');
    expect(fake.requests[0]).toMatchObject({ method: 'DELETE', query: { sendUpdates: 'none' } });
    expect((await call('delete_event', { eventId: event.id })).json).toEqual({ deleted: true, alreadyDeleted: true });
    expect((await call('list_events', {})).json.events).toEqual([]);
  });
});

describe('Google Calendar refusals as tool errors', () => {
  it('renews a token Google refuses (401) once and retries with the new one', async () => {
    fake.tokens.delete('token-1');
    fake.tokens.add('token-2');
    tokens.renewed = 'token-2';
    const listed = await call('list_calendars', {});
    expect(listed.json.calendars).toHaveLength(2);
    expect(tokens.rejected).toEqual(['token-1']);
    expect(fake.requests.map((r) => r.token)).toEqual(['token-1', 'token-2']);
  });

  it('asks the user to reconnect when the token cannot be renewed', async () => {
    fake.tokens.clear();
    const refused = await call('list_calendars', {});
    expect(refused.error).toMatch(
      /Google Calendar refused the connection's credentials: Request had invalid authentication credentials.*Connect Google Calendar again/,
    );
  });

  it('answers a 429 with when to try again, a 403 with the missing scope, a 500 and a garbage answer clearly', async () => {
    fake.failNext({ status: 429, retryAfter: '17' }, { status: 403 }, { status: 500 }, 'garbage');
    expect((await call('list_events', {})).error).toBe('Google Calendar is limiting requests (HTTP 429). Try again in 17 s.');
    const scope = await call('find_free_time', { timeMin: '2025-03-10T00:00:00Z', timeMax: '2025-03-11T00:00:00Z', durationMinutes: 30 });
    expect(scope.error).toMatch(/HTTP 403\): Request had insufficient authentication scopes\. .*permission \(scope\)/);
    expect((await call('create_event', { summary: 'x', start: '2025-03-10', end: '2025-03-11' })).error).toMatch(
      /had an error \(HTTP 500\)/,
    );
    expect((await call('delete_event', { eventId: 'abcdef' })).error).toMatch(/not JSON/);
  });
});
