export { gmailServer, gmailBaseUrl } from './gmail-server.ts';
export { GmailMailbox } from './gmail-mailbox.ts';
export { mailServer, registerMailTools, messageBodyChars, threadBodyChars, threadPageSize } from './mail-server.ts';
export type {
  DraftRef,
  LabelChange,
  MailLabel,
  MailMessage,
  MailSearch,
  MailThread,
  Mailbox,
  MessagePage,
  MessageSummary,
  OutgoingMail,
  SentRef,
} from './mailbox.ts';
