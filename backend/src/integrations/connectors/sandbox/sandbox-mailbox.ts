import { randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import { toJsonText, type DatabaseSchema } from '../../../database/index.ts';
import type {
  DraftRef,
  LabelChange,
  MailLabel,
  MailMessage,
  MailSearch,
  MailThread,
  Mailbox,
  MessagePage,
  OutgoingMail,
  SentRef,
} from '../gmail/index.ts';
import { ProviderError } from '../provider-api.ts';
import { parseMailQuery, type QueryTarget } from './mail-query.ts';
import type { SandboxData } from './sandbox-data.ts';
import { mailLabels, mailbox as address, sandboxUser } from './sandbox-team.ts';

type MailRow = Selectable<DatabaseSchema['sandbox_mail']>;

const notFound = () => new ProviderError('Requested entity was not found.', 404);
/** Gmail's search leaves these out unless asked for by label or `in:`. */
const hiddenByDefault = ['SPAM', 'TRASH'];

/**
 * The sandbox user's mailbox, kept in Agentry's database: Gmail's behaviour where the mail tools
 * rely on it (search with a subset of its query syntax, newest first and paged; labels; threads;
 * drafts that leave the drafts when sent; a sent mail in SENT, and in the inbox too when it is
 * addressed to the user's own address), with the user's rows only and a cap on how many.
 */
export class SandboxMailbox implements Mailbox {
  private ready: Promise<void> | undefined;

  constructor(
    private readonly data: SandboxData,
    private readonly userId: string,
  ) {}

  async search(request: MailSearch): Promise<MessagePage> {
    const rows = await this.rows();
    const wanted = request.labelIds ?? [];
    const query = request.query?.trim() ?? '';
    const matches = parseMailQuery(query, { now: this.data.time(), labelIdOf });
    const asksHidden = hiddenByDefault.some(
      (label) => wanted.includes(label) || /\bin:(anywhere|spam|trash)\b/i.test(query.slice(0, 2000)),
    );
    const found = rows.filter(
      (row) =>
        wanted.every((label) => row.label_ids.includes(label)) &&
        (asksHidden || !row.label_ids.some((label) => hiddenByDefault.includes(label))) &&
        matches(target(row)),
    );
    const from = offset(request.pageToken);
    const page = found.slice(from, from + request.maxResults);
    const next = from + request.maxResults < found.length ? String(from + request.maxResults) : undefined;
    return { messages: page.map(message), nextPageToken: next, resultSizeEstimate: found.length };
  }

  async getMessage(messageId: string): Promise<MailMessage> {
    await this.ensure();
    const row = await this.data.database.db
      .selectFrom('sandbox_mail')
      .selectAll()
      .where('user_id', '=', this.userId)
      .where('id', '=', messageId)
      .executeTakeFirst();
    if (!row) throw notFound();
    return message(row);
  }

  async getThread(threadId: string): Promise<MailThread> {
    await this.ensure();
    const rows = await this.data.database.db
      .selectFrom('sandbox_mail')
      .selectAll()
      .where('user_id', '=', this.userId)
      .where('thread_id', '=', threadId)
      .orderBy('received_at')
      .orderBy('id')
      .execute();
    if (rows.length === 0) throw notFound();
    return { id: threadId, messages: rows.map(message) };
  }

  async listLabels(): Promise<MailLabel[]> {
    return mailLabels;
  }

  async createDraft(mail: OutgoingMail): Promise<DraftRef> {
    const row = await this.store(mail, { labelIds: ['DRAFT'], draftId: `r-${randomBytes(6).toString('hex')}` });
    return { draftId: row.draftId!, messageId: row.id, threadId: row.threadId };
  }

  async sendDraft(draftId: string): Promise<SentRef> {
    await this.ensure();
    const row = await this.data.database.db
      .selectFrom('sandbox_mail')
      .selectAll()
      .where('user_id', '=', this.userId)
      .where('draft_id', '=', draftId)
      .executeTakeFirst();
    if (!row) throw notFound();
    const labelIds = sentLabels(row.message);
    await this.data.database.db
      .updateTable('sandbox_mail')
      .set({ draft_id: null, label_ids: toJsonText(labelIds), received_at: new Date(this.data.time()) })
      .where('user_id', '=', this.userId)
      .where('id', '=', row.id)
      .execute();
    return { messageId: row.id, threadId: row.thread_id, labelIds };
  }

  async send(mail: OutgoingMail): Promise<SentRef> {
    const row = await this.store(mail, { labelIds: sentLabels({ to: mail.to, cc: mail.cc ?? [], bcc: mail.bcc ?? [] }) });
    return { messageId: row.id, threadId: row.threadId, labelIds: row.labelIds };
  }

  async modifyLabels(messageId: string, change: LabelChange): Promise<SentRef> {
    for (const id of [...change.add, ...change.remove])
      if (!mailLabels.some((label) => label.id === id)) throw new ProviderError(`Invalid label: ${id}`, 400);
    const row = await this.getMessage(messageId);
    const labelIds = [...new Set([...row.labelIds.filter((id) => !change.remove.includes(id)), ...change.add])];
    await this.data.database.db
      .updateTable('sandbox_mail')
      .set({ label_ids: toJsonText(labelIds) })
      .where('user_id', '=', this.userId)
      .where('id', '=', messageId)
      .execute();
    return { messageId, threadId: row.threadId, labelIds };
  }

  /** The user's mail, newest first (at most the cap's worth). */
  private async rows(): Promise<MailRow[]> {
    await this.ensure();
    return this.data.database.db
      .selectFrom('sandbox_mail')
      .selectAll()
      .where('user_id', '=', this.userId)
      .orderBy('received_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
  }

  /** Stores a new message from the user; a reply joins its original's thread. */
  private async store(mail: OutgoingMail, options: { labelIds: string[]; draftId?: string }) {
    await this.ensure();
    const threadId = mail.replyToMessageId ? (await this.getMessage(mail.replyToMessageId)).threadId : undefined;
    const id = randomBytes(8).toString('hex');
    return this.data.database.transaction(async (tx) => {
      await this.data.checkRoom(tx, this.userId, 'mail');
      await tx
        .insertInto('sandbox_mail')
        .values({
          user_id: this.userId,
          id,
          thread_id: threadId ?? id,
          draft_id: options.draftId ?? null,
          received_at: new Date(this.data.time()),
          label_ids: toJsonText(options.labelIds),
          message: {
            from: address(sandboxUser),
            to: mail.to,
            cc: mail.cc ?? [],
            bcc: mail.bcc ?? [],
            subject: mail.subject,
            body: mail.body,
            attachments: [],
          },
        })
        .execute();
      return { id, threadId: threadId ?? id, draftId: options.draftId, labelIds: options.labelIds };
    });
  }

  private ensure(): Promise<void> {
    this.ready ??= this.data.ensure(this.userId).catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }
}

/** A sent mail is in SENT; addressed to the user's own address, it also arrives in their inbox, unread. */
function sentLabels(mail: { to: readonly string[]; cc: readonly string[]; bcc: readonly string[] }): string[] {
  const own = [...mail.to, ...mail.cc, ...mail.bcc].some((to) => to.toLowerCase().includes(sandboxUser.email));
  return own ? ['SENT', 'INBOX', 'UNREAD'] : ['SENT'];
}

function labelIdOf(name: string): string | undefined {
  return mailLabels.find((label) => label.name.toLowerCase() === name || label.id.toLowerCase() === name)?.id;
}

function offset(pageToken: string | undefined): number {
  if (pageToken === undefined) return 0;
  if (!/^[0-9]{1,6}$/.test(pageToken)) throw new ProviderError('Invalid pageToken: pass back the nextPageToken of the last answer.', 400);
  return Number(pageToken);
}

function target(row: MailRow): QueryTarget {
  const m = row.message;
  const lower = (values: readonly string[]) => values.join(', ').toLowerCase();
  return {
    from: m.from.toLowerCase(),
    to: lower(m.to),
    cc: lower(m.cc),
    subject: m.subject.toLowerCase(),
    text: [m.from, ...m.to, ...m.cc, m.subject, m.body, ...m.attachments].join('\n').toLowerCase(),
    labelIds: row.label_ids,
    hasAttachment: m.attachments.length > 0,
    receivedAt: row.received_at.getTime(),
  };
}

function message(row: MailRow): MailMessage {
  const m = row.message;
  return {
    id: row.id,
    threadId: row.thread_id,
    from: m.from,
    to: m.to,
    cc: m.cc,
    subject: m.subject,
    date: row.received_at.toISOString(),
    snippet: m.body.replace(/\s+/g, ' ').trim().slice(0, 120),
    labelIds: row.label_ids,
    ...(m.replyTo ? { replyTo: m.replyTo } : {}),
    body: m.body,
    bodyTruncated: false,
    attachments: m.attachments,
  };
}
