import type { SandboxChatContent, SandboxMailContent } from '../../../database/index.ts';
import type { CalendarEvent } from '../google-calendar/index.ts';
import { calendars, mailbox, outsiders, team } from './sandbox-team.ts';

export interface SampleMail {
  id: string;
  threadId: string;
  draftId?: string;
  receivedAt: Date;
  labelIds: string[];
  message: SandboxMailContent;
}

export interface SampleEvent {
  calendarId: string;
  event: CalendarEvent;
}

export interface SampleChat {
  channel: string;
  ts: string;
  threadTs?: string;
  message: SandboxChatContent;
}

export interface SampleData {
  mail: SampleMail[];
  events: SampleEvent[];
  chat: SampleChat[];
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const { alex, maya, daniel, priya, tomas, hannah } = team;
const { jordan, sam } = outsiders;

/**
 * A week of a small team's mail, meetings and channel talk, placed relative to `now`: the same
 * items every time, only their times move, so "unread mail of the last day" and "meetings this
 * week" always find something. Ids are fixed, so a reset gives back the same ids.
 */
export function sampleData(now: number): SampleData {
  return { mail: sampleMail(now), events: sampleEvents(now), chat: sampleChat(now) };
}

function sampleMail(now: number): SampleMail[] {
  let n = 0;
  const mail = (
    hoursAgo: number,
    thread: number,
    labelIds: string[],
    content: Omit<SandboxMailContent, 'cc' | 'bcc' | 'attachments'> & Partial<SandboxMailContent>,
  ): SampleMail => ({
    id: `19a0${String(++n).padStart(12, '0')}`,
    threadId: `19a0${String(thread).padStart(12, '0')}`,
    receivedAt: new Date(now - hoursAgo * HOUR),
    labelIds,
    message: { cc: [], bcc: [], attachments: [], ...content },
  });
  const me = mailbox(alex);
  const list = [
    mail(3, 1, ['INBOX', 'UNREAD', 'IMPORTANT', 'Label_1'], {
      from: mailbox(jordan),
      to: [me],
      cc: [mailbox(daniel)],
      subject: 'Urgent: CSV exports failing since Monday',
      body: `Hi Alex,\n\nSince Monday every CSV export from the Insights dashboard fails with "export timed out" for our finance team. They need the month-end numbers by Friday, so this is blocking us.\n\nCan someone look at it today? We have 40 people waiting on these reports.\n\nThanks,\nJordan Ellis\nHead of Operations, Brightwater Foods`,
    }),
    mail(2, 1, ['INBOX', 'UNREAD', 'Label_1'], {
      from: mailbox(daniel),
      to: [me, mailbox(jordan)],
      cc: [mailbox(maya)],
      subject: 'Re: Urgent: CSV exports failing since Monday',
      body: `Jordan, thanks for flagging. We can reproduce it on exports over 50,000 rows. Tomás is on it and we'll send an update by 5pm.\n\nAlex: could you join a call with Jordan this afternoon? I've put one in the calendar.\n\nDaniel`,
    }),
    mail(1, 2, ['INBOX', 'UNREAD', 'Label_1'], {
      from: mailbox(tomas),
      to: [me, mailbox(daniel)],
      subject: 'Export job fix is in review',
      body: `The export worker was loading the whole result set into memory. The fix streams rows in batches of 5,000; the pull request is in review with Maya. If it's approved this afternoon it can go out with tomorrow's deploy.`,
    }),
    mail(5, 3, ['INBOX', 'UNREAD', 'IMPORTANT', 'Label_3'], {
      from: mailbox(maya),
      to: [me],
      subject: 'Launch checklist for Thursday',
      body: `Alex,\n\nWhere we stand for the Insights 2.0 launch on Thursday:\n- Release notes: draft ready, needs your review\n- Pricing page: Priya's final designs are in\n- Load test: passed at 3x expected traffic\n- Open: the export bug Brightwater hit must be fixed first\n\nCan you confirm go/no-go criteria before tomorrow's meeting?\n\nMaya`,
    }),
    mail(8, 4, ['INBOX', 'UNREAD'], {
      from: mailbox(priya),
      to: [me],
      subject: 'Updated onboarding mockups',
      body: `Hi Alex, attached are the v3 onboarding screens with the shorter sign-up flow we discussed. Main change: the workspace setup step moved after the first dashboard. Comments welcome before Wednesday's design review.\n\nPriya`,
      attachments: ['onboarding-v3.pdf'],
    }),
    mail(12, 5, ['INBOX', 'UNREAD', 'CATEGORY_UPDATES'], {
      from: 'Larkspur Security <security@larkspur.example>',
      to: [me],
      subject: 'New sign-in to your account',
      body: 'We noticed a new sign-in to your Larkspur account from a new browser. If this was you, you can ignore this message.',
    }),
    mail(20, 6, ['INBOX', 'UNREAD', 'Label_2'], {
      from: mailbox(hannah),
      to: [me, mailbox(maya), mailbox(priya)],
      subject: 'Interview loop for Sam Rivera: feedback due Friday',
      body: `Hi all,\n\nThanks for interviewing Sam Rivera for the Senior Frontend Engineer role. Please add your written feedback to the scorecard by Friday noon; the debrief is on the calendar.\n\nHannah`,
    }),
    mail(26, 6, ['INBOX', 'Label_2'], {
      from: mailbox(sam),
      to: [mailbox(hannah)],
      cc: [me],
      subject: 'Thank you for the interview',
      body: 'Thank you all for the conversations yesterday. I especially enjoyed the product exercise with Alex. Looking forward to hearing from you.\n\nSam',
    }),
    mail(30, 7, ['INBOX', 'CATEGORY_UPDATES'], {
      from: 'CloudHost Billing <billing@cloudhost.example>',
      to: [me],
      subject: 'Your invoice for this month',
      body: 'Your invoice of $1,240.00 is available. Payment will be taken from the card on file in 5 days.',
    }),
    mail(50, 8, ['INBOX', 'STARRED', 'Label_3'], {
      from: mailbox(maya),
      to: [me, mailbox(priya), mailbox(tomas), mailbox(daniel)],
      subject: 'Release notes draft for Insights 2.0',
      body: 'Draft release notes are in the shared folder. Highlights: scheduled reports, faster dashboards, and the new onboarding. Please send corrections by Wednesday.',
    }),
    mail(96, 9, ['INBOX', 'Label_1'], {
      from: mailbox(jordan),
      to: [me],
      subject: 'Quarterly review next week?',
      body: 'Hi Alex, could we hold our quarterly review next week? Thursday or Friday afternoon works best for us.\n\nJordan',
    }),
    mail(72, 9, ['SENT', 'Label_1'], {
      from: me,
      to: [mailbox(jordan)],
      cc: [mailbox(daniel)],
      subject: 'Re: Quarterly review next week?',
      body: "Hi Jordan, Friday afternoon works. I'll send an invitation with Daniel.\n\nAlex",
    }),
    mail(120, 10, ['INBOX', 'Label_1'], {
      from: mailbox(daniel),
      to: [me],
      subject: 'Brightwater renewal numbers',
      body: 'Brightwater renews in six weeks: 40 seats today, they asked about 60. The export issue could put that at risk, so worth a personal note from you once it is fixed.',
    }),
    mail(144, 11, ['Label_2'], {
      from: mailbox(hannah),
      to: [me, mailbox(maya)],
      subject: 'Offer approved: Staff Engineer',
      body: 'Good news: the Staff Engineer offer was accepted. Start date is the first of next month.',
    }),
    mail(140, 12, ['INBOX'], {
      from: 'Product Weekly <digest@productweekly.example>',
      to: [me],
      subject: 'Five ideas for better onboarding',
      body: 'This week: shorter sign-up forms, progressive setup, and why the first dashboard matters more than the tour.',
    }),
  ];
  const draft = mail(4, 3, ['DRAFT'], {
    from: me,
    to: [mailbox(maya)],
    subject: 'Re: Launch checklist for Thursday',
    body: 'Maya, go/no-go criteria: export fix deployed and verified with Brightwater, release notes approved, on-call',
  });
  return [...list, { ...draft, draftId: 'r-1001' }];
}

function sampleEvents(now: number): SampleEvent[] {
  const today = Math.floor(now / DAY) * DAY;
  const primary = calendars[0]!.id;
  const at = (day: number, hour: number) => new Date(today + day * DAY + hour * HOUR).toISOString().replace('.000Z', 'Z');
  const person = (member: { name: string; email: string }, responseStatus: 'accepted' | 'tentative' | 'needsAction' = 'accepted') => ({
    email: member.email,
    displayName: member.name,
    responseStatus,
  });
  const self = { email: alex.email, displayName: alex.name, responseStatus: 'accepted' as const, self: true };
  const meeting = (
    id: string,
    day: number,
    hours: [number, number],
    summary: string,
    attendees: CalendarEvent['attendees'],
    more: Partial<CalendarEvent> = {},
  ): SampleEvent => ({
    calendarId: primary,
    event: {
      id,
      status: 'confirmed',
      summary,
      start: { dateTime: at(day, hours[0]), timeZone: 'UTC' },
      end: { dateTime: at(day, hours[1]), timeZone: 'UTC' },
      attendees: attendees.length ? [self, ...attendees] : [],
      organizer: { email: alex.email, displayName: alex.name, self: true },
      ...more,
    },
  });
  const standups = [-3, -2, -1, 0, 1, 2, 3, 4].map((day) =>
    meeting(`standup${String(day + 3)}`, day, [9, 9.25], 'Team standup', [person(maya), person(priya), person(tomas), person(daniel)], {
      location: 'Video call',
    }),
  );
  const launchDay = new Date(today + 2 * DAY).toISOString().slice(0, 10);
  const afterLaunch = new Date(today + 3 * DAY).toISOString().slice(0, 10);
  return [
    ...standups,
    meeting('lunch01', -2, [12, 13], 'Team lunch', [person(maya), person(priya), person(tomas), person(daniel), person(hannah)], {
      location: 'Noodle Bar, 3rd street',
    }),
    meeting('loopsam01', -1, [13, 14], 'Interview: Sam Rivera (product exercise)', [person(hannah), person(priya)], {
      description: 'Senior Frontend Engineer loop. Scorecard in the hiring folder.',
    }),
    meeting('escalation01', 0, [16, 16.75], 'Brightwater: CSV export escalation', [person(daniel), person(tomas), person(jordan)], {
      description: "Jordan's finance team cannot export reports since Monday. Agenda: cause, fix date, workaround.",
      location: 'Video call',
    }),
    meeting('designrev01', 0, [13, 14], 'Design review: onboarding v3', [person(priya), person(tomas, 'tentative')]),
    meeting('oneonone01', 1, [10, 10.5], '1:1 Alex / Maya', [person(maya)]),
    meeting('gonogo01', 1, [15, 15.5], 'Insights 2.0 go/no-go', [person(maya), person(priya), person(tomas), person(daniel)], {
      description: 'Decide whether Insights 2.0 ships Thursday. Criteria in the launch checklist.',
    }),
    meeting('debrief01', 2, [14, 14.5], 'Hiring debrief: Sam Rivera', [person(hannah), person(maya), person(priya, 'needsAction')]),
    meeting('focus01', 3, [9.5, 12], 'Focus time: Q3 roadmap', []),
    meeting('qbr01', 4, [15, 16], 'Quarterly review with Brightwater', [person(daniel), person(jordan, 'needsAction')], {
      location: 'Brightwater office',
    }),
    {
      calendarId: calendars[1]!.id,
      event: {
        id: 'launch01',
        status: 'confirmed',
        summary: 'Insights 2.0 launch',
        start: { date: launchDay },
        end: { date: afterLaunch },
        attendees: [],
        organizer: { email: maya.email, displayName: maya.name },
      },
    },
  ];
}

function sampleChat(now: number): SampleChat[] {
  const ts = (hoursAgo: number) => ((now - hoursAgo * HOUR) / 1000).toFixed(6);
  const say = (channel: string, hoursAgo: number, who: { chatId: string; handle: string }, text: string, thread?: number): SampleChat => ({
    channel,
    ts: ts(hoursAgo),
    ...(thread !== undefined ? { threadTs: ts(thread) } : {}),
    message: { userId: who.chatId, userName: who.handle, text },
  });
  const me = `<@${alex.chatId}>`;
  return [
    say('C0GENERAL1', 70, maya, 'Reminder: Insights 2.0 launches Thursday. Launch channel is #launch-insights.'),
    say('C0GENERAL1', 30, hannah, 'Welcome our new Staff Engineer, starting next month! :tada:'),
    say('C0GENERAL1', 6, daniel, 'Heads-up: Brightwater is seeing failed CSV exports. Tracking in #support-escalations.'),
    say('C0LAUNCH01', 48, maya, 'Release notes draft is up. Please review by Wednesday.'),
    say('C0LAUNCH01', 47, priya, 'Pricing page designs are final, linked in the checklist.', 48),
    say('C0LAUNCH01', 46, tomas, 'Load test passed at 3x expected traffic.', 48),
    say('C0LAUNCH01', 5, maya, `${me} can you confirm the go/no-go criteria before tomorrow's meeting?`),
    say('C0LAUNCH01', 4, priya, 'Final onboarding screens are in the design file. Copy still needs a pass.'),
    say('C0SUPPORT1', 4, daniel, `Brightwater: every CSV export over ~50k rows times out since Monday. ${me} customer call at 4pm today.`),
    say('C0SUPPORT1', 3.5, tomas, 'Reproduced. The export worker loads the whole result set into memory.', 4),
    say('C0SUPPORT1', 1.5, tomas, 'Fix (streaming in batches of 5,000) is in review with Maya.', 4),
    say('C0SUPPORT1', 1, maya, 'Reviewing now. If it passes it goes out with tomorrow morning’s deploy.', 4),
    say('C0HIRING01', 26, hannah, 'Sam Rivera loop is done. Scorecards due Friday noon, please.'),
    say('C0HIRING01', 22, priya, 'Mine is in: strong yes on product sense, some questions on testing.', 26),
    say('C0HIRING01', 2, hannah, `${me} your scorecard for Sam is the last one missing.`),
    say('C0RANDOM01', 28, tomas, 'The new coffee machine on the 2nd floor makes oat flat whites now.'),
    say('C0RANDOM01', 9, priya, 'Who is up for lunch at the noodle place on Friday?'),
    say('G0LEADS001', 24, maya, 'Brightwater renewal is in six weeks; let us keep the export fix top priority.'),
    say('G0LEADS001', 7, daniel, `${me} Jordan asked for a personal update once the fix ships.`),
  ];
}
