/*
 * A useful subset of Gmail's search syntax, for the sandbox's mailbox: `from:`, `to:`, `cc:`,
 * `subject:`, `is:` (unread, read, starred, important), `in:` and `label:`, `has:attachment`,
 * `newer_than:`/`older_than:` (d, m, y), `after:`/`before:` (YYYY/MM/DD), quoted phrases, plain
 * words and `-` to negate a term. Terms are ANDed, as Gmail does. Parsing is one pass over a query
 * capped in length and in terms, so any query costs time linear in its (bounded) size.
 */

/** What a term is tested against: one message's fields, lower-cased by the caller. */
export interface QueryTarget {
  from: string;
  to: string;
  cc: string;
  subject: string;
  /** Every searchable field together (addresses, subject, body, attachment names). */
  text: string;
  labelIds: readonly string[];
  hasAttachment: boolean;
  receivedAt: number;
}

export type MailPredicate = (message: QueryTarget) => boolean;

export const maxQueryChars = 2_000;
const maxTerms = 50;
const DAY = 86_400_000;
const periods: Record<string, number> = { d: DAY, m: 30 * DAY, y: 365 * DAY };

/**
 * The query as one predicate. `labelIdOf` maps a label's name (`label:customers`) to its id;
 * `now` places `newer_than:`. Unknown operators are searched as plain words, as Gmail does.
 */
export function parseMailQuery(query: string, options: { now: number; labelIdOf: (name: string) => string | undefined }): MailPredicate {
  const predicates = tokens(query.slice(0, maxQueryChars))
    .slice(0, maxTerms)
    .map((token) => term(token, options));
  return (message) => predicates.every((test) => test(message));
}

/** Whitespace-separated terms; a double-quoted run (after `op:` or alone) is one term. */
function tokens(query: string): Array<{ text: string; negated: boolean }> {
  const found: Array<{ text: string; negated: boolean }> = [];
  let current = '';
  let quoted = false;
  const flush = () => {
    const negated = current.startsWith('-') && current.length > 1;
    const text = (negated ? current.slice(1) : current).replaceAll('"', '');
    if (text) found.push({ text, negated });
    current = '';
  };
  for (const char of query) {
    if (char === '"') quoted = !quoted;
    if (!quoted && (char === ' ' || char === '\t' || char === '\n' || char === '\r')) flush();
    else current += char;
  }
  flush();
  return found;
}

function term(token: { text: string; negated: boolean }, options: { now: number; labelIdOf: (name: string) => string | undefined }) {
  const test = positive(token.text.toLowerCase(), options);
  return token.negated ? (m: QueryTarget) => !test(m) : test;
}

function positive(text: string, options: { now: number; labelIdOf: (name: string) => string | undefined }): MailPredicate {
  const colon = text.indexOf(':');
  const operator = colon > 0 ? text.slice(0, colon) : '';
  const value = colon > 0 ? text.slice(colon + 1) : text;
  const label = (id: string) => (m: QueryTarget) => m.labelIds.includes(id);
  switch (operator) {
    case 'from':
      return (m) => m.from.includes(value);
    case 'to':
      return (m) => m.to.includes(value) || m.cc.includes(value);
    case 'cc':
      return (m) => m.cc.includes(value);
    case 'subject':
      return (m) => m.subject.includes(value);
    case 'has':
      if (value === 'attachment') return (m) => m.hasAttachment;
      break;
    case 'is':
      if (value === 'unread') return label('UNREAD');
      if (value === 'read') return (m) => !m.labelIds.includes('UNREAD');
      if (value === 'starred' || value === 'important') return label(value.toUpperCase());
      break;
    case 'in':
      if (value === 'anywhere') return () => true;
      if (value === 'drafts') return label('DRAFT');
      return label(value.toUpperCase());
    case 'label': {
      const id = options.labelIdOf(value) ?? options.labelIdOf(value.replaceAll('-', ' '));
      return id ? label(id) : () => false;
    }
    case 'newer_than':
    case 'older_than': {
      const span = period(value);
      if (span === undefined) break;
      const since = options.now - span;
      return operator === 'newer_than' ? (m) => m.receivedAt > since : (m) => m.receivedAt <= since;
    }
    case 'after':
    case 'before': {
      const at = Date.parse(`${value.replaceAll('/', '-')}T00:00:00Z`);
      if (Number.isNaN(at)) break;
      return operator === 'after' ? (m) => m.receivedAt >= at : (m) => m.receivedAt < at;
    }
  }
  return (m) => m.text.includes(text);
}

function period(value: string): number | undefined {
  const unit = periods[value.slice(-1)];
  const count = Number(value.slice(0, -1));
  if (unit === undefined || !Number.isInteger(count) || count < 1 || value.length > 6) return undefined;
  return count * unit;
}
