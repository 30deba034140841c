import type { CalendarInfo } from '../google-calendar/index.ts';
import type { ChatChannel } from '../slack/index.ts';
import type { MailLabel } from '../gmail/index.ts';

/*
 * The small, made-up team the sandbox's sample data is about: the sandbox user (Alex Morgan,
 * product manager) and five colleagues at Larkspur, a company launching Insights 2.0 this week
 * while a customer's problem escalates and a hiring loop finishes. Addresses are under the
 * reserved `.example` domain, so a mail "sent" in the sandbox could never reach anyone real.
 */

export interface TeamMember {
  name: string;
  role: string;
  email: string;
  /** The member's chat user id. */
  chatId: string;
  /** The member's chat handle. */
  handle: string;
}

/** The sandbox user: whose mailbox, calendar and chat identity the sandbox is. */
export const sandboxUser: TeamMember = {
  name: 'Alex Morgan',
  role: 'Product Manager',
  email: 'alex@larkspur.example',
  chatId: 'U0ALEX0001',
  handle: 'alex',
};

export const team = {
  alex: sandboxUser,
  maya: { name: 'Maya Chen', role: 'Head of Engineering', email: 'maya@larkspur.example', chatId: 'U0MAYA0001', handle: 'maya' },
  daniel: {
    name: 'Daniel Okafor',
    role: 'Customer Success Lead',
    email: 'daniel@larkspur.example',
    chatId: 'U0DANIEL01',
    handle: 'daniel',
  },
  priya: { name: 'Priya Raman', role: 'Product Designer', email: 'priya@larkspur.example', chatId: 'U0PRIYA001', handle: 'priya' },
  tomas: { name: 'Tomás Silva', role: 'Backend Engineer', email: 'tomas@larkspur.example', chatId: 'U0TOMAS001', handle: 'tomas' },
  hannah: { name: 'Hannah Berg', role: 'Recruiter', email: 'hannah@larkspur.example', chatId: 'U0HANNAH01', handle: 'hannah' },
} satisfies Record<string, TeamMember>;

/** People outside the team who write in: a customer and a candidate. */
export const outsiders = {
  jordan: { name: 'Jordan Ellis', email: 'jordan.ellis@brightwater.example' },
  sam: { name: 'Sam Rivera', email: 'sam.rivera@mailbox.example' },
};

/** Who posts what the sandbox's tools post: the app, as Slack shows a bot's messages. */
export const appAuthor = { userId: 'U0AGENTRY1', userName: 'Agentry' };

/** `Name <address>`, as mail headers write a person. */
export function mailbox(person: { name: string; email: string }): string {
  return `${person.name} <${person.email}>`;
}

export const systemLabels = ['INBOX', 'SENT', 'DRAFT', 'SPAM', 'TRASH', 'UNREAD', 'STARRED', 'IMPORTANT', 'CATEGORY_UPDATES'] as const;

export const mailLabels: MailLabel[] = [
  ...systemLabels.map((id) => ({ id, name: id, type: 'system' as const })),
  { id: 'Label_1', name: 'Customers', type: 'user' },
  { id: 'Label_2', name: 'Hiring', type: 'user' },
  { id: 'Label_3', name: 'Launch', type: 'user' },
];

export const calendars: CalendarInfo[] = [
  { id: sandboxUser.email, summary: sandboxUser.name, timeZone: 'UTC', primary: true, accessRole: 'owner' },
  { id: 'launches@calendar.larkspur.example', summary: 'Larkspur launches', timeZone: 'UTC', primary: false, accessRole: 'reader' },
];

export const channels: ChatChannel[] = [
  { id: 'C0GENERAL1', name: 'general', topic: 'Company-wide news and questions', isPrivate: false, memberCount: 6 },
  { id: 'C0LAUNCH01', name: 'launch-insights', topic: 'Insights 2.0 ships Thursday', isPrivate: false, memberCount: 5 },
  { id: 'C0SUPPORT1', name: 'support-escalations', topic: 'Customer issues that need engineering', isPrivate: false, memberCount: 4 },
  { id: 'C0HIRING01', name: 'hiring', topic: 'Open roles and interview loops', isPrivate: false, memberCount: 4 },
  { id: 'C0RANDOM01', name: 'random', topic: 'Lunch, links and pets', isPrivate: false, memberCount: 6 },
  { id: 'G0LEADS001', name: 'leads', topic: 'Team leads only', isPrivate: true, memberCount: 3 },
];
