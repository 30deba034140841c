import type { JSONSchema7 } from '@ai-sdk/provider';
import { describe, expect, it } from 'vitest';
import { buildToolInput, type ToolInputContext } from './tool-input.ts';

const meeting: ToolInputContext = {
  instruction: 'Find free slots for everyone in the window.',
  variables: [
    { name: 'topic', type: 'string', description: 'What the meeting is about.', value: 'roadmap' },
    {
      name: 'attendees',
      type: 'list',
      description: 'Email addresses of the people to invite.',
      value: ['ana@example.org', 'bo@example.org'],
    },
    { name: 'durationMinutes', type: 'number', value: 45 },
    { name: 'withinDays', type: 'number', description: 'How many days ahead to look.', value: 7 },
  ],
  today: '2026-06-15',
  timezone: 'Europe/Berlin',
};

// Shapes as the built-in calendar and mail servers list them.
const findFreeTime: JSONSchema7 = {
  type: 'object',
  properties: {
    calendarIds: {
      type: 'array',
      items: { type: 'string' },
      default: ['primary'],
      description: "Calendars (or people's email addresses) that must all be free",
    },
    timeMin: { type: 'string', format: 'date-time', description: 'Start of the search, RFC 3339' },
    timeMax: { type: 'string', format: 'date-time', description: 'End of the search, RFC 3339' },
    durationMinutes: { type: 'integer', minimum: 5, maximum: 1440, description: 'Length of the meeting in minutes' },
    timeZone: { type: 'string', description: "IANA zone for working hours and for the answer's times (default UTC)" },
    maxSlots: { type: 'integer', minimum: 1, maximum: 50, default: 5 },
  },
  required: ['timeMin', 'timeMax', 'durationMinutes'],
};
const createEvent: JSONSchema7 = {
  type: 'object',
  properties: {
    summary: { type: 'string', minLength: 1, maxLength: 30, description: 'Title' },
    start: {
      anyOf: [
        { type: 'string', format: 'date-time' },
        { type: 'string', format: 'date' },
      ],
    },
    end: {
      anyOf: [
        { type: 'string', format: 'date-time' },
        { type: 'string', format: 'date' },
      ],
    },
    attendees: { type: 'array', items: { type: 'string', format: 'email' }, description: 'Attendee email addresses' },
    sendUpdates: { type: 'string', enum: ['all', 'externalOnly', 'none'], default: 'all' },
    location: { type: 'string' },
  },
  required: ['summary', 'start', 'end'],
};

describe('buildToolInput: a tool input from its schema and the session', () => {
  it('fills required fields from variables by name or description, times from the next day in the user zone, and leaves other optional ones out', () => {
    expect(buildToolInput(findFreeTime, meeting)).toEqual({
      calendarIds: ['ana@example.org', 'bo@example.org'],
      timeMin: '2026-06-16T10:00:00+02:00',
      timeMax: '2026-06-16T11:00:00+02:00',
      durationMinutes: 45,
    });
  });

  it('takes the first branch of anyOf, addresses from the variables, and a placeholder from the instruction within maxLength', () => {
    const input = buildToolInput(createEvent, { ...meeting, instruction: 'Create the event with the attendees and a short agenda.' });
    expect(input).toEqual({
      summary: 'Create the event with the att…',
      start: '2026-06-16T10:00:00+02:00',
      end: '2026-06-16T11:00:00+02:00',
      attendees: ['ana@example.org', 'bo@example.org'],
    });
    // Winter time in Berlin, and UTC for a zone Intl does not know.
    expect(buildToolInput(createEvent, { ...meeting, today: '2026-01-10' }).start).toBe('2026-01-11T10:00:00+01:00');
    expect(buildToolInput(createEvent, { ...meeting, timezone: 'Nowhere/Atlantis' }).start).toBe('2026-06-16T10:00:00Z');
  });

  it('gives an end a later time than its start in whatever order the schema lists them (jsonb sorts the keys)', () => {
    const stored = (schema: JSONSchema7): JSONSchema7 => ({
      ...schema,
      properties: Object.fromEntries(
        Object.entries(schema.properties!).sort(([a], [b]) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)),
      ),
    });
    expect(Object.keys(stored(findFreeTime).properties!).indexOf('timeMax')).toBeLessThan(
      Object.keys(stored(findFreeTime).properties!).indexOf('timeMin'),
    );
    expect(buildToolInput(stored(findFreeTime), meeting)).toMatchObject({
      timeMin: '2026-06-16T10:00:00+02:00',
      timeMax: '2026-06-16T11:00:00+02:00',
    });
    expect(buildToolInput(stored(createEvent), meeting)).toMatchObject({
      start: '2026-06-16T10:00:00+02:00',
      end: '2026-06-16T11:00:00+02:00',
    });
  });

  it('writes to the first address an earlier answer held when the variables hold none (a reply to mail just listed)', () => {
    const createDraft: JSONSchema7 = {
      type: 'object',
      properties: { to: { type: 'array', items: { type: 'string' } }, subject: { type: 'string' }, body: { type: 'string' } },
      required: ['body'],
    };
    const triage: ToolInputContext = {
      instruction: 'Draft a short reply.',
      variables: [{ name: 'timeframe', type: 'enum', value: 'today' }],
      today: '2026-06-15',
      timezone: 'UTC',
      seen: JSON.stringify({ text: JSON.stringify({ messages: [{ from: 'Ana Lima <ana@example.org>', to: ['me@example.org'] }] }) }),
    };
    expect(buildToolInput(createDraft, triage)).toEqual({ to: ['ana@example.org'], body: 'Draft a short reply' });
    // The variables' addresses come first; with neither, an optional recipient stays out.
    expect(buildToolInput(createDraft, { ...meeting, seen: triage.seen }).to).toEqual(['ana@example.org', 'bo@example.org']);
    expect(buildToolInput(createDraft, { ...triage, seen: undefined })).toEqual({ body: 'Draft a short reply' });
  });

  it('keeps numbers within their bounds, uses defaults, consts and enums, and builds required nested objects and lists', () => {
    const schema: JSONSchema7 = {
      type: 'object',
      properties: {
        durationMinutes: { type: 'integer', minimum: 5, maximum: 30 },
        count: { type: 'integer', minimum: 3, maximum: 9 },
        ratio: { type: 'number', maximum: 0.5 },
        mode: { type: 'string', enum: ['fast', 'slow'] },
        kind: { const: 'event' },
        notify: { type: 'boolean', default: true },
        when: { type: 'string', format: 'date' },
        to: { type: 'string', format: 'email' },
        target: { type: 'object', properties: { id: { type: 'string' }, note: { type: 'string' } }, required: ['id'] },
        tags: { type: 'array', items: { type: 'string', maxLength: 4 }, minItems: 2 },
      },
      required: ['durationMinutes', 'count', 'ratio', 'mode', 'kind', 'notify', 'when', 'to', 'target', 'tags'],
    };
    expect(buildToolInput(schema, { ...meeting, instruction: 'Do it.' })).toEqual({
      durationMinutes: 30,
      count: 3,
      ratio: 0.5,
      mode: 'fast',
      kind: 'event',
      notify: true,
      when: '2026-06-16',
      to: 'ana@example.org',
      target: { id: 'Do it' },
      tags: ['Do…', 'Do…'],
    });
    expect(buildToolInput(schema, { ...meeting, variables: [], instruction: '' }).to).toBe('someone@example.com');
  });

  it("fills a required search field no variable matches with the user's request, within its bounds", () => {
    const search: JSONSchema7 = {
      type: 'object',
      properties: { query: { type: 'string', maxLength: 20, description: 'What to look for' }, limit: { type: 'integer', default: 5 } },
      required: ['query'],
    };
    const context = { ...meeting, variables: [], instruction: 'Search the knowledge base.' };
    expect(buildToolInput(search, { ...context, request: 'How long do refunds take?' })).toEqual({ query: 'How long do refunds ' });
    expect(buildToolInput(search, context)).toEqual({ query: 'Search the knowledg…' });
  });

  it('fills an optional field only from a variable that clearly matches it, and picks among variables by the step instruction', () => {
    const history: JSONSchema7 = {
      type: 'object',
      properties: {
        channel: { type: 'string', description: 'The channel: its id or its name as #name.' },
        text: { type: 'string', minLength: 1, description: 'The message, in Slack mrkdwn.' },
        maxResults: { type: 'integer', minimum: 1, maximum: 50, description: 'At most this many messages (1 to 50, default 10).' },
      },
      required: ['channel'],
    };
    const digest: ToolInputContext['variables'] = [
      { name: 'channels', type: 'list', description: 'The channels to summarise, such as general or eng-team.', value: ['general', 'eng'] },
      { name: 'postTo', type: 'string', description: 'A channel to post the digest to (leave empty to only show it).', value: 'digests' },
      { name: 'maxMessages', type: 'number', description: 'The most messages to read.', value: 80 },
    ];
    const read = buildToolInput(history, {
      ...meeting,
      variables: digest,
      instruction: 'Read the messages of each channel in the period.',
    });
    expect(read).toEqual({ channel: 'general', maxResults: 50 });
    const post = buildToolInput(
      { ...history, required: ['channel', 'text'] },
      { ...meeting, variables: digest, instruction: 'Post the digest if a channel to post to was given.' },
    );
    expect(post).toMatchObject({ channel: 'digests', text: 'Post the digest if a channel to post to was given' });
    // A variable sharing one word with an optional field does not fill it.
    expect(
      buildToolInput(history, {
        ...meeting,
        variables: [digest[0]!, { name: 'tone', type: 'string', description: 'The message tone', value: 'dry' }],
      }),
    ).toEqual({
      channel: 'general',
    });
  });
});
