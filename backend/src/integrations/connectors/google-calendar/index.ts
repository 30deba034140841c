import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ProviderApi } from '../provider-api.ts';
import { calendarServer } from './calendar-server.ts';
import { GoogleCalendarStore } from './google-calendar-store.ts';

export type {
  Attendee,
  BusyInterval,
  CalendarBusy,
  CalendarEvent,
  CalendarInfo,
  CalendarStore,
  EventChanges,
  EventQuery,
  EventTime,
  NewEvent,
  Page,
  ResponseStatus,
  SendUpdates,
} from './calendar-store.ts';
export { calendarServer, registerCalendarTools } from './calendar-server.ts';
export { GOOGLE_CALENDAR_API_BASE_URL, GOOGLE_CALENDAR_SCOPES, GoogleCalendarStore } from './google-calendar-store.ts';

/**
 * The built-in Google Calendar MCP server for one connection: the Calendar tools over Google
 * Calendar API v3, called through `api` (whose base URL is `GOOGLE_CALENDAR_API_BASE_URL`, or a
 * fake's in tests), so the user's token goes only to Google.
 */
export function googleCalendarServer(api: ProviderApi): McpServer {
  return calendarServer(new GoogleCalendarStore(api), { name: 'google-calendar', version: '1.0.0' });
}
