import MailComposer from 'nodemailer/lib/mail-composer';
import { z } from 'zod';
import { ProviderError, type ProviderApi } from '../provider-api.ts';
import { gmailMessageSchema, header, summaryHeaders, toMailMessage } from './gmail-message.ts';
import type {
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

const base = '/gmail/v1/users/me';
/** Summaries fetched at once for a page of search results: quick, and well inside Gmail's per-user quota. */
const summaryConcurrency = 5;

const listSchema = z.object({
  messages: z.array(z.object({ id: z.string(), threadId: z.string() })).optional(),
  nextPageToken: z.string().optional(),
  resultSizeEstimate: z.number().optional(),
});
const threadSchema = z.object({ id: z.string(), messages: z.array(gmailMessageSchema).optional() });
const labelsSchema = z.object({
  labels: z.array(z.object({ id: z.string(), name: z.string(), type: z.string().optional() })).optional(),
});
const sentSchema = z.object({ id: z.string(), threadId: z.string(), labelIds: z.array(z.string()).optional() });
const draftSchema = z.object({ id: z.string(), message: sentSchema });

/**
 * The `Mailbox` port over Gmail's REST API (users.messages, users.threads, users.labels,
 * users.drafts), every call through `ProviderApi`, so the user's token goes only to Gmail and
 * Gmail's refusals arrive as `ProviderError`s. Outgoing mail is composed by nodemailer's
 * MailComposer (encoded words, folded lines, no header a value can smuggle in) and handed to
 * Gmail as base64url `raw`; Gmail fills in the sender.
 */
export class GmailMailbox implements Mailbox {
  constructor(private readonly api: ProviderApi) {}

  async search(request: MailSearch): Promise<MessagePage> {
    const list = await this.api.request(listSchema, {
      path: `${base}/messages`,
      query: {
        q: request.query || undefined,
        labelIds: request.labelIds?.length ? request.labelIds : undefined,
        pageToken: request.pageToken || undefined,
        maxResults: request.maxResults,
      },
    });
    const found = list.messages ?? [];
    const messages: MessageSummary[] = [];
    for (let at = 0; at < found.length; at += summaryConcurrency) {
      const batch = await Promise.all(found.slice(at, at + summaryConcurrency).map(({ id }) => this.summary(id)));
      for (const summary of batch) if (summary) messages.push(summary);
    }
    return { messages, nextPageToken: list.nextPageToken, resultSizeEstimate: list.resultSizeEstimate };
  }

  async getMessage(messageId: string): Promise<MailMessage> {
    const message = await this.api.request(gmailMessageSchema, { path: `${base}/messages/${id(messageId)}`, query: { format: 'full' } });
    return toMailMessage(message);
  }

  async getThread(threadId: string): Promise<MailThread> {
    const thread = await this.api.request(threadSchema, { path: `${base}/threads/${id(threadId)}`, query: { format: 'full' } });
    return { id: thread.id, messages: (thread.messages ?? []).map(toMailMessage) };
  }

  async listLabels(): Promise<MailLabel[]> {
    const answer = await this.api.request(labelsSchema, { path: `${base}/labels` });
    return (answer.labels ?? []).map((label) => ({ id: label.id, name: label.name, type: label.type === 'system' ? 'system' : 'user' }));
  }

  async createDraft(mail: OutgoingMail): Promise<DraftRef> {
    const message = await this.compose(mail);
    const draft = await this.api.request(draftSchema, { method: 'POST', path: `${base}/drafts`, body: { message } });
    return { draftId: draft.id, messageId: draft.message.id, threadId: draft.message.threadId };
  }

  async sendDraft(draftId: string): Promise<SentRef> {
    return sent(await this.api.request(sentSchema, { method: 'POST', path: `${base}/drafts/send`, body: { id: draftId } }));
  }

  async send(mail: OutgoingMail): Promise<SentRef> {
    const message = await this.compose(mail);
    return sent(await this.api.request(sentSchema, { method: 'POST', path: `${base}/messages/send`, body: message }));
  }

  async modifyLabels(messageId: string, change: LabelChange): Promise<SentRef> {
    const answer = await this.api.request(sentSchema, {
      method: 'POST',
      path: `${base}/messages/${id(messageId)}/modify`,
      body: { addLabelIds: change.add, removeLabelIds: change.remove },
    });
    return sent(answer);
  }

  /** A summary, or nothing when the message went away between the list and the read. */
  private async summary(messageId: string): Promise<MessageSummary | undefined> {
    try {
      const message = await this.api.request(gmailMessageSchema, {
        path: `${base}/messages/${id(messageId)}`,
        query: { format: 'metadata', metadataHeaders: summaryHeaders },
      });
      const { id: messageIdOf, threadId, from, to, cc, subject, date, snippet, labelIds } = toMailMessage(message);
      return { id: messageIdOf, threadId, from, to, cc, subject, date, snippet, labelIds };
    } catch (error) {
      if (error instanceof ProviderError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** The message Gmail takes (`raw` and, for a reply, the thread it joins). */
  private async compose(mail: OutgoingMail): Promise<{ raw: string; threadId?: string }> {
    const reply = mail.replyToMessageId ? await this.threading(mail.replyToMessageId) : undefined;
    const composer = new MailComposer({
      to: mail.to,
      ...(mail.cc?.length ? { cc: mail.cc } : {}),
      ...(mail.bcc?.length ? { bcc: mail.bcc } : {}),
      subject: mail.subject,
      text: mail.body,
      ...(reply?.messageIdHeader ? { inReplyTo: reply.messageIdHeader, references: [...reply.references, reply.messageIdHeader] } : {}),
    });
    // Gmail needs the Bcc header to know whom to send a blind copy to; it removes it before delivery.
    const node = composer.compile();
    node.keepBcc = true;
    const raw = (await node.build()).toString('base64url');
    return reply ? { raw, threadId: reply.threadId } : { raw };
  }

  /** What a reply needs of the original: its thread and its RFC 5322 Message-ID and References. */
  private async threading(messageId: string): Promise<{ threadId: string; messageIdHeader?: string; references: string[] }> {
    const original = await this.api.request(gmailMessageSchema, {
      path: `${base}/messages/${id(messageId)}`,
      query: { format: 'metadata', metadataHeaders: ['Message-ID', 'References'] },
    });
    const messageIdHeader = header(original.payload, 'Message-ID')?.trim();
    const references = (header(original.payload, 'References') ?? '').split(/\s+/).filter((ref) => ref.startsWith('<'));
    return { threadId: original.threadId, references: references.slice(-20), ...(messageIdHeader ? { messageIdHeader } : {}) };
  }
}

function sent(message: z.infer<typeof sentSchema>): SentRef {
  return { messageId: message.id, threadId: message.threadId, labelIds: message.labelIds ?? [] };
}

/** An id as one path segment, whatever the model passed. */
function id(value: string): string {
  return encodeURIComponent(value);
}
