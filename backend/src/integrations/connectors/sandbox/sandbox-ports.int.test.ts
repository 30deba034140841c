import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createTestDatabase, drivers, type TestDatabase } from '../../../../test/test-database.ts';
import { ProviderError } from '../provider-api.ts';
import { SandboxCalendar } from './sandbox-calendar.ts';
import { SandboxData, sandboxLimits } from './sandbox-data.ts';
import { SandboxMailbox } from './sandbox-mailbox.ts';
import { SandboxWorkspace } from './sandbox-workspace.ts';

// A Wednesday morning: the sample week is placed around it.
const now = Date.parse('2025-03-12T10:00:00Z');
const HOUR = 3_600_000;

describe.each(drivers)('the sandbox ports on %s', (driver) => {
  let test: TestDatabase;
  let data: SandboxData;
  let users = 0;

  beforeAll(async () => {
    test = await createTestDatabase(driver);
    data = new SandboxData({ database: test.database, now: () => now });
  });
  afterAll(() => test.drop());

  async function sandbox() {
    const user = await test.database.db
      .insertInto('users')
      .values({ email: `sandbox-${++users}@example.test`, name: 'S' })
      .returning('id')
      .executeTakeFirstOrThrow();
    return {
      userId: user.id,
      mail: new SandboxMailbox(data, user.id),
      calendar: new SandboxCalendar(data, user.id),
      chat: new SandboxWorkspace(data, user.id),
    };
  }
  const subjects = (page: { messages: Array<{ subject: string }> }) => page.messages.map((m) => m.subject);
  const refused = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProviderError);
    return error as ProviderError;
  };

  describe('mailbox', () => {
    it('answers the unread inbox mail of the last day, newest first, as list_unread asks for it', async () => {
      const { mail } = await sandbox();
      const page = await mail.search({ query: 'newer_than:1d', labelIds: ['INBOX', 'UNREAD'], maxResults: 50 });
      expect(subjects(page)).toEqual([
        'Export job fix is in review',
        'Re: Urgent: CSV exports failing since Monday',
        'Urgent: CSV exports failing since Monday',
        'Launch checklist for Thursday',
        'Updated onboarding mockups',
        'New sign-in to your account',
        'Interview loop for Sam Rivera: feedback due Friday',
      ]);
      expect(page.messages.every((m) => Date.parse(m.date) > now - 24 * HOUR)).toBe(true);
    });

    it('searches by from:, to:, subject:, is:, in:, label:, has:, older_than:, phrases, words and negation', async () => {
      const { mail } = await sandbox();
      const search = async (query: string) => subjects(await mail.search({ query, maxResults: 50 }));
      expect(await search('from:jordan subject:"CSV exports"')).toEqual(['Urgent: CSV exports failing since Monday']);
      expect(await search('brightwater renewal')).toEqual(['Brightwater renewal numbers']);
      expect(await search('has:attachment')).toEqual(['Updated onboarding mockups']);
      expect(await search('in:sent')).toEqual(['Re: Quarterly review next week?']);
      expect(await search('is:starred older_than:2d')).toEqual(['Release notes draft for Insights 2.0']);
      expect(await search('is:starred newer_than:2d')).toEqual([]);
      expect(await search('label:hiring is:unread')).toEqual(['Interview loop for Sam Rivera: feedback due Friday']);
      expect(await search('to:maya -subject:release')).toEqual([
        'Re: Urgent: CSV exports failing since Monday',
        'Re: Launch checklist for Thursday',
        'Interview loop for Sam Rivera: feedback due Friday',
        'Offer approved: Staff Engineer',
      ]);
      expect(await search('in:drafts')).toEqual(['Re: Launch checklist for Thursday']);
    });

    it('takes a long, hostile query in linear time', async () => {
      const { mail } = await sandbox();
      const started = performance.now();
      await mail.search({ query: `${'"a '.repeat(3_000)}${'from:'.repeat(1_000)}`, maxResults: 10 });
      expect(performance.now() - started).toBeLessThan(1_000);
    });

    it('pages with nextPageToken, and reads a thread oldest first', async () => {
      const { mail } = await sandbox();
      const first = await mail.search({ maxResults: 5 });
      const second = await mail.search({ maxResults: 5, pageToken: first.nextPageToken });
      expect(first.messages).toHaveLength(5);
      expect(second.messages.map((m) => m.id)).not.toContain(first.messages[0]!.id);
      const escalation = first.messages.find((m) => m.subject.startsWith('Re: Urgent'))!;
      const thread = await mail.getThread(escalation.threadId);
      expect(thread.messages.map((m) => m.from)).toEqual([
        'Jordan Ellis <jordan.ellis@brightwater.example>',
        'Daniel Okafor <daniel@larkspur.example>',
      ]);
      expect((await refused(mail.getThread('nope'))).status).toBe(404);
    });

    it('saves a reply draft in its thread, and sending it moves it from the drafts to SENT', async () => {
      const { mail } = await sandbox();
      const [checklist] = (await mail.search({ query: 'subject:"launch checklist" from:maya', maxResults: 1 })).messages;
      const draft = await mail.createDraft({
        to: ['maya@larkspur.example'],
        subject: 'Re: Launch checklist',
        body: 'Go.',
        replyToMessageId: checklist!.id,
      });
      expect(draft.threadId).toBe(checklist!.threadId);
      expect((await mail.getMessage(draft.messageId)).labelIds).toEqual(['DRAFT']);
      const sent = await mail.sendDraft(draft.draftId);
      expect(sent.labelIds).toEqual(['SENT']);
      expect(subjects(await mail.search({ query: 'in:drafts', maxResults: 10 }))).not.toContain('Re: Launch checklist');
      expect(subjects(await mail.search({ query: 'in:sent', maxResults: 10 }))).toContain('Re: Launch checklist');
      expect((await refused(mail.sendDraft(draft.draftId))).status).toBe(404);
    });

    it("delivers mail sent to the user's own address to their inbox, unread; other mail only to SENT", async () => {
      const { mail } = await sandbox();
      const own = await mail.send({ to: ['Alex Morgan <alex@larkspur.example>'], subject: 'Note to self', body: 'Buy cake.' });
      const other = await mail.send({ to: ['maya@larkspur.example'], subject: 'For Maya', body: 'Hi.' });
      expect(own.labelIds).toEqual(['SENT', 'INBOX', 'UNREAD']);
      expect(other.labelIds).toEqual(['SENT']);
      expect(subjects(await mail.search({ labelIds: ['INBOX', 'UNREAD'], maxResults: 1 }))).toEqual(['Note to self']);
    });

    it('changes labels (archive, mark read), refusing unknown labels and messages', async () => {
      const { mail } = await sandbox();
      const [newest] = (await mail.search({ labelIds: ['INBOX', 'UNREAD'], maxResults: 1 })).messages;
      expect((await mail.modifyLabels(newest!.id, { add: ['STARRED'], remove: ['UNREAD', 'INBOX'] })).labelIds).not.toContain('INBOX');
      expect(subjects(await mail.search({ labelIds: ['INBOX'], maxResults: 50 }))).not.toContain(newest!.subject);
      expect(subjects(await mail.search({ query: 'is:starred', maxResults: 50 }))).toContain(newest!.subject);
      expect((await refused(mail.modifyLabels(newest!.id, { add: ['Label_99'], remove: [] }))).status).toBe(400);
      expect((await refused(mail.getMessage('0000000000000000'))).status).toBe(404);
    });

    it('refuses mail past the cap with a tool error that says what to do', async () => {
      const { mail, userId } = await sandbox();
      await mail.listLabels();
      await mail.search({ maxResults: 1 });
      await sql`insert into sandbox_mail (user_id, id, thread_id, received_at, label_ids, message)
        select ${userId}, 'filler' || n, 'filler' || n, now(), '["INBOX"]'::jsonb, '{"from":"x","to":[],"cc":[],"bcc":[],"subject":"x","body":"x","attachments":[]}'::jsonb
        from generate_series(1, ${sandboxLimits.mail}) n`.execute(test.database.db);
      const error = await refused(mail.send({ to: ['maya@larkspur.example'], subject: 'One more', body: '.' }));
      expect(error.message).toMatch(/at most 2000 messages.*reset the sandbox/);
    });

    it("never shows another user's mail", async () => {
      const a = await sandbox();
      const b = await sandbox();
      await a.mail.send({ to: ['maya@larkspur.example'], subject: 'Only for A', body: '.' });
      expect(subjects(await b.mail.search({ query: 'only for a', maxResults: 10 }))).toEqual([]);
      const [sentByA] = (await a.mail.search({ query: 'subject:"only for a"', maxResults: 1 })).messages;
      expect((await refused(b.mail.getMessage(sentByA!.id))).status).toBe(404);
    });

    it('reset puts the sample back: changes gone, the draft and unread mail as they were', async () => {
      const { mail, chat, calendar, userId } = await sandbox();
      const before = await mail.search({ maxResults: 50 });
      await mail.send({ to: ['maya@larkspur.example'], subject: 'Temporary', body: '.' });
      await mail.modifyLabels(before.messages[0]!.id, { add: [], remove: ['UNREAD'] });
      await chat.post({ channel: 'C0GENERAL1', text: 'temporary' });
      await calendar.deleteEvent({ calendarId: 'primary', eventId: 'gonogo01', sendUpdates: 'none' });
      expect(await data.reset(userId)).toEqual({ messages: 16, events: 18, chatMessages: 19 });
      expect(await mail.search({ maxResults: 50 })).toEqual(before);
      expect((await chat.history({ channel: 'C0GENERAL1', limit: 1 })).items[0]!.text).not.toBe('temporary');
      expect((await calendar.getEvent({ calendarId: 'primary', eventId: 'gonogo01' })).status).toBe('confirmed');
    });
  });

  describe('calendar', () => {
    const week = { timeMin: new Date(now).toISOString(), timeMax: new Date(now + 7 * 24 * HOUR).toISOString() };

    it("lists this week's meetings of the primary calendar in start order, by free text too", async () => {
      const { calendar } = await sandbox();
      const page = await calendar.listEvents({ calendarId: 'primary', ...week, maxResults: 100 });
      const starts = page.items.map((e) => Date.parse((e.start as { dateTime: string }).dateTime));
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
      expect(page.items.map((e) => e.summary)).toContain('Insights 2.0 go/no-go');
      const found = await calendar.listEvents({ calendarId: 'primary', ...week, query: 'brightwater', maxResults: 10 });
      expect(found.items.map((e) => e.summary)).toEqual(['Brightwater: CSV export escalation', 'Quarterly review with Brightwater']);
      const launches = await calendar.listEvents({ calendarId: 'launches@calendar.larkspur.example', ...week, maxResults: 10 });
      expect(launches.items[0]).toMatchObject({ summary: 'Insights 2.0 launch', start: { date: '2025-03-14' } });
      expect((await refused(calendar.listEvents({ calendarId: 'nobody@example.com', maxResults: 1 }))).status).toBe(404);
    });

    it('creates an event once per client id, updates it, and keeps a deleted one as cancelled', async () => {
      const { calendar } = await sandbox();
      const event = {
        id: 'abc12345',
        summary: 'Roadmap sync',
        start: { dateTime: '2025-03-13T11:00:00Z' },
        end: { dateTime: '2025-03-13T11:30:00Z' },
        attendees: [{ email: 'maya@larkspur.example' }],
      };
      const first = await calendar.createEvent({ calendarId: 'primary', event, sendUpdates: 'all' });
      const again = await calendar.createEvent({ calendarId: 'primary', event, sendUpdates: 'all' });
      expect([first.created, again.created]).toEqual([true, false]);
      expect(first.event.attendees).toEqual([{ email: 'maya@larkspur.example', displayName: 'Maya Chen', responseStatus: 'needsAction' }]);
      const moved = await calendar.updateEvent({
        calendarId: 'primary',
        eventId: 'abc12345',
        changes: { summary: 'Roadmap sync (moved)' },
        sendUpdates: 'none',
      });
      expect(moved).toMatchObject({ summary: 'Roadmap sync (moved)', attendees: first.event.attendees });
      expect(await calendar.deleteEvent({ calendarId: 'primary', eventId: 'abc12345', sendUpdates: 'none' })).toEqual({
        alreadyDeleted: false,
      });
      expect(await calendar.deleteEvent({ calendarId: 'primary', eventId: 'abc12345', sendUpdates: 'none' })).toEqual({
        alreadyDeleted: true,
      });
      const listed = await calendar.listEvents({ calendarId: 'primary', ...week, maxResults: 100 });
      expect(listed.items.map((e) => e.id)).not.toContain('abc12345');
      const readOnly = calendar.createEvent({
        calendarId: 'launches@calendar.larkspur.example',
        event: { ...event, id: undefined },
        sendUpdates: 'none',
      });
      expect((await refused(readOnly)).status).toBe(403);
    });

    it("computes free/busy from the events: the user's, a colleague's from the meetings they attend", async () => {
      const { calendar } = await sandbox();
      const tomorrow = { timeMin: '2025-03-13T00:00:00Z', timeMax: '2025-03-14T00:00:00Z' };
      const busy = await calendar.freeBusy({ calendarIds: ['primary', 'hannah@larkspur.example', 'stranger@example.com'], ...tomorrow });
      expect(busy['primary']!.busy).toEqual([
        { start: '2025-03-13T09:00:00Z', end: '2025-03-13T09:15:00Z' },
        { start: '2025-03-13T10:00:00Z', end: '2025-03-13T10:30:00Z' },
        { start: '2025-03-13T15:00:00Z', end: '2025-03-13T15:30:00Z' },
      ]);
      expect(busy['hannah@larkspur.example']!.busy).toEqual([]);
      expect(busy['stranger@example.com']!.errors).toEqual(['notFound']);
    });
  });

  describe('chat workspace', () => {
    it('lists public channels (private ones when asked) and reads history newest first with reply counts', async () => {
      const { chat } = await sandbox();
      expect((await chat.listChannels({ limit: 100, includePrivate: false })).items.map((c) => c.name)).not.toContain('leads');
      expect((await chat.listChannels({ limit: 100, includePrivate: true })).items.map((c) => c.name)).toContain('leads');
      const history = await chat.history({ channel: 'C0SUPPORT1', limit: 10 });
      expect(history.items.map((m) => m.userName)).toEqual(['daniel']);
      expect(history.items[0]).toMatchObject({ replyCount: 3, channelName: 'support-escalations' });
      const thread = await chat.replies({ channel: 'C0SUPPORT1', threadTs: history.items[0]!.ts, limit: 10 });
      expect(thread.items.map((m) => m.userName)).toEqual(['daniel', 'tomas', 'tomas', 'maya']);
      const paged = await chat.history({ channel: 'C0LAUNCH01', limit: 2 });
      expect(paged.items).toHaveLength(2);
      expect((await chat.history({ channel: 'C0LAUNCH01', limit: 2, cursor: paged.nextCursor })).items).toHaveLength(1);
    });

    it('searches mentions, channels, authors and words', async () => {
      const { chat } = await sandbox();
      const me = await chat.me();
      const mentions = await chat.search({ query: `<@${me.userId}>`, sort: 'timestamp', limit: 20 });
      expect(mentions.items.map((m) => m.channelName)).toEqual(['hiring', 'support-escalations', 'launch-insights', 'leads']);
      const fromMaya = await chat.search({ query: 'in:#launch-insights from:@maya', sort: 'timestamp', limit: 20 });
      expect(fromMaya.items).toHaveLength(2);
      expect((await chat.search({ query: '"load test" passed', sort: 'score', limit: 5 })).items.map((m) => m.userName)).toEqual(['tomas']);
    });

    it('posts as the app, in a channel and in a thread, and refuses unknown channels and threads', async () => {
      const { chat } = await sandbox();
      const posted = await chat.post({ channel: 'C0LAUNCH01', text: 'Digest: all green.' });
      expect(posted).toMatchObject({ userName: 'Agentry', channel: 'C0LAUNCH01' });
      expect((await chat.history({ channel: 'C0LAUNCH01', limit: 1 })).items[0]!.text).toBe('Digest: all green.');
      await chat.post({ channel: 'C0LAUNCH01', text: 'Reply', threadTs: posted.ts });
      expect((await chat.history({ channel: 'C0LAUNCH01', limit: 1 })).items[0]!.replyCount).toBe(1);
      expect((await refused(chat.post({ channel: 'C0NOPE0001', text: 'x' }))).status).toBe(404);
      expect((await refused(chat.post({ channel: 'C0LAUNCH01', text: 'x', threadTs: '1.000000' }))).status).toBe(404);
    });
  });
});
