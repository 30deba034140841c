import addressparser from 'nodemailer/lib/addressparser';
import { z } from 'zod';
import type { MailMessage } from './mailbox.ts';
import { mailHtmlText } from './mail-html-text.ts';

/*
 * Gmail's Message resource (users.messages, format `metadata` or `full`) and how it becomes the
 * port's `MailMessage`: headers read case-insensitively, the MIME tree walked for the body
 * (text/plain preferred, HTML stripped when it is all there is), base64url decoded in the part's
 * charset. Everything read from the tree is bounded: parts visited, header lengths, body size.
 */

export interface GmailPart {
  partId?: string | undefined;
  mimeType?: string | undefined;
  filename?: string | undefined;
  headers?: Array<{ name: string; value: string }> | undefined;
  body?: { size?: number | undefined; data?: string | undefined; attachmentId?: string | undefined } | undefined;
  parts?: GmailPart[] | undefined;
}

export const gmailPartSchema: z.ZodType<GmailPart> = z.lazy(() =>
  z.object({
    partId: z.string().optional(),
    mimeType: z.string().optional(),
    filename: z.string().optional(),
    headers: z.array(z.object({ name: z.string(), value: z.string() })).optional(),
    body: z.object({ size: z.number().optional(), data: z.string().optional(), attachmentId: z.string().optional() }).optional(),
    parts: z.array(gmailPartSchema).optional(),
  }),
);

export const gmailMessageSchema = z.object({
  id: z.string(),
  threadId: z.string(),
  labelIds: z.array(z.string()).optional(),
  snippet: z.string().optional(),
  internalDate: z.string().optional(),
  payload: gmailPartSchema.optional(),
});
export type GmailMessage = z.infer<typeof gmailMessageSchema>;

/** The headers a summary shows, asked for with `format=metadata`. */
export const summaryHeaders = ['From', 'To', 'Cc', 'Subject', 'Date', 'Reply-To'] as const;

/** The most body text a message yields; the tools show less. */
export const maxBodyChars = 50_000;
const maxParts = 200;
const maxHeaderChars = 8_192;

export function header(part: GmailPart | undefined, name: string): string | undefined {
  const lower = name.toLowerCase();
  const value = part?.headers?.find((h) => h.name.toLowerCase() === lower)?.value;
  return value === undefined ? undefined : value.slice(0, maxHeaderChars);
}

/** A message as the port shows it; the body is empty unless it was fetched with `format=full`. */
export function toMailMessage(message: GmailMessage): MailMessage {
  const payload = message.payload;
  const { body, truncated, attachments } = readBody(payload);
  const replyTo = header(payload, 'Reply-To');
  return {
    id: message.id,
    threadId: message.threadId,
    from: addresses(header(payload, 'From'))[0] ?? '',
    to: addresses(header(payload, 'To')),
    cc: addresses(header(payload, 'Cc')),
    subject: header(payload, 'Subject') ?? '',
    date: date(message.internalDate, header(payload, 'Date')),
    snippet: decodeSnippet(message.snippet ?? ''),
    labelIds: message.labelIds ?? [],
    ...(replyTo ? { replyTo: addresses(replyTo)[0] } : {}),
    body,
    bodyTruncated: truncated,
    attachments,
  };
}

/** `Name <address>` for each address in a header (groups flattened). */
function addresses(value: string | undefined): string[] {
  if (!value) return [];
  return addressparser(value, { flatten: true }).flatMap((entry) =>
    entry.address ? [entry.name ? `${entry.name} <${entry.address}>` : entry.address] : [],
  );
}

function date(internalDate: string | undefined, dateHeader: string | undefined): string {
  const millis = internalDate !== undefined ? Number(internalDate) : Number.NaN;
  const at = Number.isFinite(millis) ? millis : dateHeader ? Date.parse(dateHeader) : Number.NaN;
  return Number.isNaN(at) ? '' : new Date(at).toISOString();
}

/** Gmail's snippet is HTML-escaped text. */
function decodeSnippet(snippet: string): string {
  return mailHtmlText(snippet, 4096).replace(/\n/g, ' ');
}

function readBody(payload: GmailPart | undefined): { body: string; truncated: boolean; attachments: string[] } {
  let plain: GmailPart | undefined;
  let html: GmailPart | undefined;
  const attachments: string[] = [];
  const pending: GmailPart[] = payload ? [payload] : [];
  for (let visited = 0; pending.length > 0 && visited < maxParts; visited++) {
    const part = pending.shift()!;
    const type = (part.mimeType ?? '').toLowerCase();
    const isAttachment = Boolean(part.filename) || (header(part, 'Content-Disposition') ?? '').toLowerCase().startsWith('attachment');
    if (isAttachment) {
      if (part.filename) attachments.push(part.filename.slice(0, 256));
    } else if (type === 'text/plain' && !plain && part.body?.data) plain = part;
    else if (type === 'text/html' && !html && part.body?.data) html = part;
    // Children come before later siblings: the first text part in document order wins.
    if (part.parts) pending.unshift(...part.parts.slice(0, maxParts));
  }
  let text = '';
  if (plain) text = decode(plain);
  else if (html) text = mailHtmlText(decode(html));
  text = text.replace(/\r\n/g, '\n').trim();
  const truncated = text.length > maxBodyChars;
  return { body: truncated ? text.slice(0, maxBodyChars) : text, truncated, attachments };
}

/** base64url bytes in the part's charset (UTF-8 when unnamed or unknown). */
function decode(part: GmailPart): string {
  const bytes = Buffer.from(part.body?.data ?? '', 'base64url');
  const charset = parameter(header(part, 'Content-Type') ?? '', 'charset') ?? 'utf-8';
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

function parameter(contentType: string, name: string): string | undefined {
  for (const piece of contentType.split(';').slice(1)) {
    const equals = piece.indexOf('=');
    if (equals < 0 || piece.slice(0, equals).trim().toLowerCase() !== name) continue;
    return piece
      .slice(equals + 1)
      .trim()
      .replace(/^"|"$/g, '');
  }
  return undefined;
}
