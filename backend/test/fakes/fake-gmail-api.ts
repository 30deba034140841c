import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Gmail's REST API (v1) on 127.0.0.1, written from Google's published reference: users.messages
 * list/get/send/modify, users.threads.get, users.labels.list, users.drafts create/send, with the
 * reference's paths, parameters (`q`, `labelIds`, `pageToken`, `maxResults`, `format`,
 * `metadataHeaders`) and shapes (`payload.parts` with base64url `body.data`, `nextPageToken`,
 * `resultSizeEstimate`, errors as `{error:{code,message,status}}`). The mailbox lives in memory.
 * Only bearer tokens in `tokens` are accepted (drop one to make it expire); `failNext` makes the
 * next requests answer 403 (scope), 404, 429 (Retry-After), 500 or a body that is not JSON.
 */
export interface FakeGmailApi {
  url: string;
  /** Every request, as received, with the bearer token it carried. */
  requests: RecordedRequest[];
  /** Access tokens it accepts. */
  tokens: Set<string>;
  messages: Map<string, StoredMessage>;
  /** Draft id → message id. */
  drafts: Map<string, string>;
  labels: Array<{ id: string; name: string; type: 'system' | 'user' }>;
  failNext(kind: Failure, times?: number): void;
  /** Puts a message in the mailbox (newest last by default). */
  addMessage(seed: MessageSeed): StoredMessage;
  close(): Promise<void>;
}

export type Failure = 'forbidden' | 'not-found' | 'rate-limited' | 'error' | 'garbage';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  token: string | undefined;
  body: unknown;
}

export interface Part {
  partId: string;
  mimeType: string;
  filename: string;
  headers: Array<{ name: string; value: string }>;
  body: { size: number; data?: string; attachmentId?: string };
  parts?: Part[];
}

export interface StoredMessage {
  id: string;
  threadId: string;
  labelIds: string[];
  internalDate: number;
  snippet: string;
  payload: Part;
  /** The RFC 5322 text Agentry sent, for messages that arrived through send or drafts. */
  raw?: string;
}

export interface MessageSeed {
  from: string;
  to: string[];
  cc?: string[];
  subject: string;
  text?: string;
  html?: string;
  /** Default: INBOX and UNREAD. */
  labelIds?: string[];
  threadId?: string;
  date?: Date;
  /** The RFC 5322 Message-ID; one is made up when absent. */
  messageIdHeader?: string;
  references?: string;
  replyTo?: string;
  attachments?: Array<{ filename: string; mimeType: string; size: number }>;
}

const systemLabels = ['INBOX', 'UNREAD', 'STARRED', 'IMPORTANT', 'SENT', 'DRAFT', 'SPAM', 'TRASH', 'CATEGORY_PERSONAL'];
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

export async function startFakeGmailApi(): Promise<FakeGmailApi> {
  let counter = 0;
  const nextId = () => (0x18f0000000 + ++counter).toString(16);
  const failures: Failure[] = [];
  const state: Omit<FakeGmailApi, 'url' | 'close'> = {
    requests: [],
    tokens: new Set(),
    messages: new Map(),
    drafts: new Map(),
    labels: [...systemLabels.map((id) => ({ id, name: id, type: 'system' as const })), { id: 'Label_1', name: 'Clients', type: 'user' }],
    failNext: (kind, times = 1) => {
      for (let i = 0; i < times; i++) failures.push(kind);
    },
    addMessage: (seed) =>
      store(seedPayload(seed), seed.labelIds ?? ['INBOX', 'UNREAD'], seed.threadId, seed.date, seed.text ?? seed.html ?? ''),
  };

  function store(payload: Part, labelIds: string[], threadId: string | undefined, date: Date | undefined, text: string): StoredMessage {
    const id = nextId();
    const message: StoredMessage = {
      id,
      threadId: threadId ?? id,
      labelIds,
      internalDate: (date ?? new Date(Date.now() - 1000 * (1000 - counter))).getTime(),
      snippet: text
        .replace(/<[^>]*>/g, '')
        .slice(0, 100)
        .replace(/&/g, '&amp;')
        .replace(/'/g, '&#39;'),
      payload,
    };
    state.messages.set(id, message);
    return message;
  }

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const error = (res: http.ServerResponse, code: number, status: string, message: string, headers?: Record<string, string>) =>
    send(res, code, { error: { code, message, errors: [{ message, domain: 'global', reason: status.toLowerCase() }], status } }, headers);

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const auth = req.headers.authorization;
      const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        return error(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
      }
      state.requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, token, body });
      if (!token || !state.tokens.has(token))
        return error(
          res,
          401,
          'UNAUTHENTICATED',
          'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        );
      const failure = failures.shift();
      if (failure === 'forbidden') return error(res, 403, 'PERMISSION_DENIED', 'Request had insufficient authentication scopes.');
      if (failure === 'not-found') return error(res, 404, 'NOT_FOUND', 'Requested entity was not found.');
      if (failure === 'rate-limited')
        return error(res, 429, 'RESOURCE_EXHAUSTED', "Quota exceeded for quota metric 'Queries' of service 'gmail.googleapis.com'.", {
          'retry-after': '17',
        });
      if (failure === 'error') return error(res, 500, 'INTERNAL', 'Internal error encountered.');
      if (failure === 'garbage') {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<html><body>Service temporarily unavailable</body></html>');
      }
      route(req.method ?? 'GET', url, body as Record<string, unknown> | undefined, res);
    });
  });

  function route(method: string, url: URL, body: Record<string, unknown> | undefined, res: http.ServerResponse): void {
    const prefix = '/gmail/v1/users/me/';
    if (!url.pathname.startsWith(prefix)) return error(res, 404, 'NOT_FOUND', 'Not Found');
    const segments = url.pathname.slice(prefix.length).split('/').map(decodeURIComponent);
    const q = url.searchParams;
    const [collection, first, second] = segments;
    const notFound = () => error(res, 404, 'NOT_FOUND', 'Requested entity was not found.');

    if (method === 'GET' && collection === 'messages' && first === undefined) return send(res, 200, list(q));
    if (method === 'GET' && collection === 'messages' && first && !second) {
      const message = state.messages.get(first);
      return message ? send(res, 200, view(message, q)) : notFound();
    }
    if (method === 'POST' && collection === 'messages' && first === 'send') {
      if (typeof body?.raw !== 'string')
        return error(res, 400, 'INVALID_ARGUMENT', "'raw' RFC822 payload message string or uploading message via /upload/* URL required");
      const message = fromRaw(body.raw, ['SENT'], body.threadId as string | undefined);
      return send(res, 200, brief(message));
    }
    if (method === 'POST' && collection === 'messages' && first && second === 'modify') {
      const message = state.messages.get(first);
      if (!message) return notFound();
      const add = (body?.addLabelIds as string[] | undefined) ?? [];
      const remove = (body?.removeLabelIds as string[] | undefined) ?? [];
      const unknown = [...add, ...remove].find((id) => !state.labels.some((label) => label.id === id));
      if (unknown) return error(res, 400, 'INVALID_ARGUMENT', `Invalid label: ${unknown}`);
      message.labelIds = [...new Set([...message.labelIds.filter((id) => !remove.includes(id)), ...add])];
      return send(res, 200, brief(message));
    }
    if (method === 'GET' && collection === 'threads' && first) {
      const messages = [...state.messages.values()].filter((m) => m.threadId === first).sort((a, b) => a.internalDate - b.internalDate);
      if (messages.length === 0) return notFound();
      return send(res, 200, { id: first, historyId: '1234', messages: messages.map((m) => view(m, q)) });
    }
    if (method === 'GET' && collection === 'labels' && !first)
      return send(res, 200, {
        labels: state.labels.map((label) => ({ ...label, messageListVisibility: 'show', labelListVisibility: 'labelShow' })),
      });
    if (method === 'POST' && collection === 'drafts' && !first) {
      const message = body?.message as { raw?: unknown; threadId?: string } | undefined;
      if (typeof message?.raw !== 'string') return error(res, 400, 'INVALID_ARGUMENT', 'Invalid draft');
      const stored = fromRaw(message.raw, ['DRAFT'], message.threadId);
      const draftId = `r${nextId()}`;
      state.drafts.set(draftId, stored.id);
      return send(res, 200, { id: draftId, message: brief(stored) });
    }
    if (method === 'POST' && collection === 'drafts' && first === 'send') {
      const messageId = typeof body?.id === 'string' ? state.drafts.get(body.id) : undefined;
      const message = messageId ? state.messages.get(messageId) : undefined;
      if (!message) return notFound();
      state.drafts.delete(body!.id as string);
      message.labelIds = [...message.labelIds.filter((id) => id !== 'DRAFT'), 'SENT'];
      return send(res, 200, brief(message));
    }
    return error(res, 404, 'NOT_FOUND', 'Not Found');
  }

  function list(q: URLSearchParams) {
    const labels = q.getAll('labelIds');
    const terms = (q.get('q') ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    const matches = [...state.messages.values()]
      .filter((m) => labels.every((label) => m.labelIds.includes(label)))
      .filter((m) => terms.every((term) => matchesTerm(m, term)))
      .sort((a, b) => b.internalDate - a.internalDate);
    const max = Math.min(Number(q.get('maxResults') ?? 100), 500);
    const offset = q.get('pageToken') ? Number(q.get('pageToken')!.slice(1)) : 0;
    const page = matches.slice(offset, offset + max);
    return {
      ...(page.length ? { messages: page.map((m) => ({ id: m.id, threadId: m.threadId })) } : {}),
      ...(offset + max < matches.length ? { nextPageToken: `p${offset + max}` } : {}),
      resultSizeEstimate: matches.length,
    };
  }

  function matchesTerm(message: StoredMessage, term: string): boolean {
    const head = (name: string) => (message.payload.headers.find((h) => h.name.toLowerCase() === name)?.value ?? '').toLowerCase();
    const colon = term.indexOf(':');
    const [op, value] = colon > 0 ? [term.slice(0, colon), term.slice(colon + 1)] : ['', term];
    if (op === 'is') return message.labelIds.includes(value.toUpperCase());
    if (op === 'in' || op === 'label') return message.labelIds.some((id) => id.toLowerCase() === value);
    if (op === 'from' || op === 'to' || op === 'subject') return head(op).includes(value);
    if (op === 'newer_than') {
      const unit = { d: 86_400_000, m: 30 * 86_400_000, y: 365 * 86_400_000 }[value.slice(-1)] ?? 0;
      return message.internalDate > Date.now() - Number(value.slice(0, -1)) * unit;
    }
    return [head('subject'), head('from'), message.snippet.toLowerCase()].some((text) => text.includes(term));
  }

  /** A message as messages.get answers it in `format` (full by default; metadata keeps only headers). */
  function view(message: StoredMessage, q: URLSearchParams) {
    const format = q.get('format') ?? 'full';
    const base = {
      id: message.id,
      threadId: message.threadId,
      labelIds: message.labelIds,
      snippet: message.snippet,
      historyId: '1234',
      internalDate: String(message.internalDate),
      sizeEstimate: 1024,
    };
    if (format === 'minimal') return base;
    if (format === 'raw') return { ...base, raw: b64(message.raw ?? '') };
    if (format === 'metadata') {
      const wanted = q.getAll('metadataHeaders').map((name) => name.toLowerCase());
      const headers = message.payload.headers.filter((h) => wanted.length === 0 || wanted.includes(h.name.toLowerCase()));
      return { ...base, payload: { mimeType: message.payload.mimeType, headers } };
    }
    return { ...base, payload: message.payload };
  }

  const brief = (message: StoredMessage) => ({ id: message.id, threadId: message.threadId, labelIds: message.labelIds });

  /** A message from the base64url RFC 5322 text a client sent: headers kept, the body as one text/plain part. */
  function fromRaw(raw: string, labelIds: string[], threadId: string | undefined): StoredMessage {
    const text = Buffer.from(raw, 'base64url').toString('utf8');
    const split = text.indexOf('\r\n\r\n');
    const head = split < 0 ? text : text.slice(0, split);
    const bodyText = decodeBody(split < 0 ? '' : text.slice(split + 4), head);
    const headers = head
      .replace(/\r\n[ \t]+/g, ' ')
      .split('\r\n')
      .filter(Boolean)
      .map((line) => ({ name: line.slice(0, line.indexOf(':')), value: line.slice(line.indexOf(':') + 1).trim() }));
    const knownThread = threadId && [...state.messages.values()].some((m) => m.threadId === threadId) ? threadId : undefined;
    const payload: Part = {
      partId: '',
      mimeType: 'text/plain',
      filename: '',
      headers,
      body: { size: Buffer.byteLength(bodyText), data: b64(bodyText) },
    };
    const message = store(payload, labelIds, knownThread, new Date(), bodyText);
    message.raw = text;
    return message;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

/** The body in its transfer encoding (7bit, quoted-printable or base64) as text. */
export function decodeBody(body: string, head: string): string {
  const encoding = /content-transfer-encoding:\s*([a-z0-9-]+)/i.exec(head)?.[1]?.toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable')
    return Buffer.from(
      body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
      'latin1',
    ).toString('utf8');
  return body;
}

function seedPayload(seed: MessageSeed): Part {
  const headers = [
    { name: 'From', value: seed.from },
    { name: 'To', value: seed.to.join(', ') },
    ...(seed.cc?.length ? [{ name: 'Cc', value: seed.cc.join(', ') }] : []),
    { name: 'Subject', value: seed.subject },
    { name: 'Date', value: (seed.date ?? new Date()).toUTCString() },
    { name: 'Message-ID', value: seed.messageIdHeader ?? `<${Math.random().toString(36).slice(2)}@mail.example.com>` },
    ...(seed.references ? [{ name: 'References', value: seed.references }] : []),
    ...(seed.replyTo ? [{ name: 'Reply-To', value: seed.replyTo }] : []),
    { name: 'MIME-Version', value: '1.0' },
  ];
  const textPart = (mimeType: string, content: string, partId: string): Part => ({
    partId,
    mimeType,
    filename: '',
    headers: [{ name: 'Content-Type', value: `${mimeType}; charset="UTF-8"` }],
    body: { size: Buffer.byteLength(content), data: b64(content) },
  });
  let content: Part;
  if (seed.text !== undefined && seed.html !== undefined)
    content = {
      partId: '0',
      mimeType: 'multipart/alternative',
      filename: '',
      headers: [{ name: 'Content-Type', value: 'multipart/alternative; boundary="alt"' }],
      body: { size: 0 },
      parts: [textPart('text/plain', seed.text, '0.0'), textPart('text/html', seed.html, '0.1')],
    };
  else content = seed.html !== undefined ? textPart('text/html', seed.html, '0') : textPart('text/plain', seed.text ?? '', '0');
  if (!seed.attachments?.length) return { ...content, partId: '', headers: [...headers, ...content.headers] };
  return {
    partId: '',
    mimeType: 'multipart/mixed',
    filename: '',
    headers: [...headers, { name: 'Content-Type', value: 'multipart/mixed; boundary="mixed"' }],
    body: { size: 0 },
    parts: [
      content,
      ...seed.attachments.map((file, index) => ({
        partId: String(index + 1),
        mimeType: file.mimeType,
        filename: file.filename,
        headers: [{ name: 'Content-Disposition', value: `attachment; filename="${file.filename}"` }],
        body: { size: file.size, attachmentId: `ANGjdJ${index}` },
      })),
    ],
  };
}
