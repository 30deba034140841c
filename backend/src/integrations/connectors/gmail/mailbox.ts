/**
 * A mailbox as the mail tools see it: the port the built-in Gmail server calls, implemented over
 * Gmail's REST API (`GmailMailbox`) and, for the keyless sandbox, over Agentry's own database.
 * The shapes are Gmail's (message and thread ids, label ids such as `INBOX` and `UNREAD`, Gmail's
 * search syntax) so one set of tools serves both, but nothing here is REST: no MIME, no base64, no
 * paths. An implementation reports a provider's refusal as a `ProviderError`.
 */
export interface Mailbox {
  /**
   * Messages matching `query` (Gmail's search syntax: `from:`, `subject:`, `is:unread`,
   * `in:inbox`, `newer_than:3d`, plain words) and carrying every label in `labelIds`, newest first.
   */
  search(request: MailSearch): Promise<MessagePage>;
  /** One message with its body as plain text. */
  getMessage(messageId: string): Promise<MailMessage>;
  /** A conversation's messages, oldest first. */
  getThread(threadId: string): Promise<MailThread>;
  listLabels(): Promise<MailLabel[]>;
  /** Saves a draft; a reply (`replyToMessageId`) joins the original's thread. */
  createDraft(mail: OutgoingMail): Promise<DraftRef>;
  /** Sends a saved draft, which then stops being a draft. */
  sendDraft(draftId: string): Promise<SentRef>;
  /** Sends a message at once; a reply (`replyToMessageId`) joins the original's thread. */
  send(mail: OutgoingMail): Promise<SentRef>;
  /** Adds and removes labels on a message (archiving removes `INBOX`); answers its labels after. */
  modifyLabels(messageId: string, change: LabelChange): Promise<SentRef>;
}

export interface MailSearch {
  query?: string | undefined;
  labelIds?: readonly string[] | undefined;
  /** The `nextPageToken` of the previous page. */
  pageToken?: string | undefined;
  maxResults: number;
}

export interface MessagePage {
  messages: MessageSummary[];
  /** Present when more messages match: pass it back as `pageToken`. */
  nextPageToken?: string | undefined;
  /** The provider's estimate of how many messages match in all. */
  resultSizeEstimate?: number | undefined;
}

/** What a list shows of a message. Addresses are as written (`Name <a@example.com>`). */
export interface MessageSummary {
  id: string;
  threadId: string;
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  /** ISO 8601: when the mailbox received it. */
  date: string;
  snippet: string;
  labelIds: string[];
}

export interface MailMessage extends MessageSummary {
  /** Where replies go when the sender asked for it (`Reply-To`). */
  replyTo?: string | undefined;
  /** The body as plain text (HTML-only mail stripped of its markup), capped by the implementation. */
  body: string;
  /** Whether `body` was cut short. */
  bodyTruncated: boolean;
  /** Names of attached files, if any. */
  attachments: string[];
}

export interface MailThread {
  id: string;
  messages: MailMessage[];
}

export interface MailLabel {
  id: string;
  name: string;
  /** `system` labels (INBOX, UNREAD, STARRED, …) or the user's own. */
  type: 'system' | 'user';
}

export interface OutgoingMail {
  to: string[];
  cc?: string[] | undefined;
  bcc?: string[] | undefined;
  subject: string;
  /** Plain text. */
  body: string;
  /** The message this answers: the mail joins its thread and carries In-Reply-To and References. */
  replyToMessageId?: string | undefined;
}

export interface DraftRef {
  draftId: string;
  messageId: string;
  threadId: string;
}

export interface SentRef {
  messageId: string;
  threadId: string;
  labelIds: string[];
}

export interface LabelChange {
  add: readonly string[];
  remove: readonly string[];
}
