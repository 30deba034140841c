import type { BusyInterval } from './calendar-store.ts';

/** Working hours in a zone: minutes after local midnight, and the weekdays they apply on (0 = Sunday). */
export interface WorkingHours {
  timeZone: string;
  startMinute: number;
  endMinute: number;
  days: ReadonlySet<number>;
}

export interface FreeSlot {
  start: number;
  end: number;
}

const MINUTE = 60_000;

/**
 * The free windows between `from` and `to` (epoch ms) of at least `durationMinutes`, outside every
 * busy interval of every calendar and, when given, inside working hours in their zone (local days
 * and daylight-saving changes included), earliest first, at most `maxSlots`; `more` says whether
 * further windows were left out (ask again from the last slot's end).
 */
export function findFreeSlots(options: {
  from: number;
  to: number;
  busy: readonly BusyInterval[];
  durationMinutes: number;
  workingHours?: WorkingHours | undefined;
  maxSlots: number;
}): { slots: FreeSlot[]; more: boolean } {
  const { from, to } = options;
  const busy = options.busy
    .map((interval) => ({ start: Date.parse(interval.start), end: Date.parse(interval.end) }))
    .filter((interval) => !Number.isNaN(interval.start) && !Number.isNaN(interval.end) && interval.end > interval.start)
    .sort((a, b) => a.start - b.start);
  const gaps: FreeSlot[] = [];
  let cursor = from;
  for (const interval of busy) {
    if (interval.start > cursor) gaps.push({ start: cursor, end: Math.min(interval.start, to) });
    cursor = Math.max(cursor, interval.end);
    if (cursor >= to) break;
  }
  if (cursor < to) gaps.push({ start: cursor, end: to });
  const windows = options.workingHours ? workingWindows(from, to, options.workingHours) : [{ start: from, end: to }];
  const slots: FreeSlot[] = [];
  const length = options.durationMinutes * MINUTE;
  for (const gap of gaps) {
    for (const window of windows) {
      const start = Math.max(gap.start, window.start);
      const end = Math.min(gap.end, window.end);
      if (end - start < length) continue;
      if (slots.length === options.maxSlots) return { slots, more: true };
      slots.push({ start, end });
    }
  }
  return { slots, more: false };
}

/** The working-hours windows (epoch ms) of each local day the range touches. */
function workingWindows(from: number, to: number, hours: WorkingHours): FreeSlot[] {
  const windows: FreeSlot[] = [];
  let day = localDate(from, hours.timeZone);
  const last = localDate(to, hours.timeZone);
  while (Date.UTC(day.year, day.month - 1, day.day) <= Date.UTC(last.year, last.month - 1, last.day)) {
    const weekday = new Date(Date.UTC(day.year, day.month - 1, day.day)).getUTCDay();
    if (hours.days.has(weekday)) {
      const start = zonedTime(day, hours.startMinute, hours.timeZone);
      const end = zonedTime(day, hours.endMinute, hours.timeZone);
      if (end > from && start < to) windows.push({ start: Math.max(start, from), end: Math.min(end, to) });
    }
    const next = new Date(Date.UTC(day.year, day.month - 1, day.day + 1));
    day = { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() };
  }
  return windows;
}

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

function wallClock(at: number, timeZone: string): LocalDate & { hour: number; minute: number; second: number } {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(at))) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

function localDate(at: number, timeZone: string): LocalDate {
  const { year, month, day } = wallClock(at, timeZone);
  return { year, month, day };
}

/** Minutes the zone is ahead of UTC at that instant. */
function offsetMinutes(at: number, timeZone: string): number {
  const wall = wallClock(at, timeZone);
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  return Math.round((asUtc - Math.floor(at / 1000) * 1000) / MINUTE);
}

/** The instant of a local wall-clock time; the second pass settles days when daylight saving changes. */
function zonedTime(day: LocalDate, minuteOfDay: number, timeZone: string): number {
  const wall = Date.UTC(day.year, day.month - 1, day.day) + minuteOfDay * MINUTE;
  const guess = wall - offsetMinutes(wall, timeZone) * MINUTE;
  return wall - offsetMinutes(guess, timeZone) * MINUTE;
}

/** Whether the zone is an IANA time zone this runtime knows (`Europe/Berlin`, `UTC`), not an offset. */
export function isTimeZone(timeZone: string): boolean {
  if (timeZone.length > 64 || /^[+-]/.test(timeZone)) return false;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** An instant as RFC 3339 with the zone's offset at that moment, as people in that zone read it. */
export function formatInZone(at: number, timeZone: string | undefined): string {
  if (!timeZone) return new Date(at).toISOString().replace('.000Z', 'Z');
  const wall = wallClock(at, timeZone);
  const offset = offsetMinutes(at, timeZone);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const sign = offset < 0 ? '-' : '+';
  const zone = offset === 0 ? 'Z' : `${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${pad(wall.year, 4)}-${pad(wall.month)}-${pad(wall.day)}T${pad(wall.hour)}:${pad(wall.minute)}:${pad(wall.second)}${zone}`;
}
