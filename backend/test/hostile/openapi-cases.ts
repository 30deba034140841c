import { randomBytes } from 'node:crypto';
import {
  bodyCandidates,
  deepInObject,
  deepList,
  deepObject,
  megabyteText,
  protoKey,
  RawJson,
  urlCandidates,
  urlText,
  validFor,
  type HostileValue,
} from './hostile-values.ts';
import { multipartBody, type MultipartPart } from './multipart-body.ts';
import { idForName, kindOfName, kindOfParam, pathValues, requiredQuery, urlOf, type IdBook, type Operation } from './openapi-operations.ts';
import { bodyLocations, sampleValue, schemaType, withValueAt, type JsonSchema } from './sample-value.ts';

export type Sender = 'user' | 'admin' | 'anonymous';
export type Expectation = { kind: 'refused' } | { kind: 'any' } | { kind: 'status'; status: number };

export interface HostileRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** One request of the suite and what its answer must be. */
export interface HostileCase {
  route: string;
  /** Where the hostile input sits: `path.id`, `query.limit`, `body.filters.dateRange.start`, `body`, `auth`. */
  where: string;
  input: string;
  sender: Sender;
  request: HostileRequest;
  expect: Expectation;
  heavy: boolean;
}

export interface CaseContext {
  /** The ordinary user who sends the cases, the admin (for admin routes), and the other user whose ids are sent. */
  own: IdBook;
  admin: IdBook;
  other: IdBook;
  /** Routes without a declared body that read one anyway (found by asking the server). */
  takesJson: ReadonlySet<string>;
  takesMultipart: ReadonlySet<string>;
  bodyLimitBytes: number;
}

const json = { 'content-type': 'application/json' };

/** JSON text of a value, with RawJson parts written as they are. */
export function jsonText(value: unknown): string {
  const raw: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => (v instanceof RawJson ? `@@raw${raw.push(v.text) - 1}@@` : v)) ?? '';
  return text.replace(/"@@raw(\d+)@@"/g, (_, i: string) => raw[Number(i)]!);
}

const expectOf = (value: HostileValue): Expectation => ({ kind: value.expect });

/** What the sections of an operation's cases share: its baseline request, and `add` to vary it. */
interface Builder {
  op: Operation;
  ctx: CaseContext;
  sender: Sender;
  book: IdBook;
  params: Record<string, string>;
  query: Array<[string, string]>;
  baseBody: unknown;
  baseline: { url: string };
  add(
    where: string,
    input: string,
    request: Partial<HostileRequest>,
    expect: Expectation,
    options?: { heavy?: boolean; sender?: Sender },
  ): void;
}

/**
 * Every hostile case of one operation, derived from its OpenAPI description: its parameters, its
 * body's properties (nested ones included), the body as a whole, its authentication, and the
 * other user's objects wherever the operation names one.
 */
export function casesFor(op: Operation, ctx: CaseContext): HostileCase[] {
  const sender: Sender = op.isPublic ? 'anonymous' : op.adminOnly ? 'admin' : 'user';
  const book = sender === 'admin' ? ctx.admin : ctx.own;
  const params = pathValues(op, book);
  const query = requiredQuery(op);
  const takesJson = op.jsonBody !== undefined || ctx.takesJson.has(op.route);
  const baseBody = op.jsonBody ? sampleValue(op.jsonBody, '', idForName(book)) : takesJson ? {} : undefined;
  const baseline = { url: urlOf(op.path, params, query) };
  const cases: HostileCase[] = [];
  const add: Builder['add'] = (where, input, request, expect, options = {}) => {
    const body = 'body' in request ? request.body : baseBody === undefined ? undefined : jsonText(baseBody);
    const headers = { ...(body === undefined ? {} : json), ...request.headers };
    cases.push({
      route: op.route,
      where,
      input,
      sender: options.sender ?? sender,
      request: { method: op.method, url: request.url ?? baseline.url, headers, ...(body === undefined ? {} : { body }) },
      expect,
      heavy: options.heavy ?? false,
    });
  };
  const b: Builder = { op, ctx, sender, book, params, query, baseBody, baseline, add };

  if (!op.isPublic) add('auth', 'no token', baseline, { kind: 'status', status: 401 }, { sender: 'anonymous' });
  if (op.adminOnly) add('auth', 'an ordinary user', baseline, { kind: 'status', status: 403 }, { sender: 'user' });
  parameterCases(b);
  if (op.jsonBody) propertyCases(b, op.jsonBody);
  if (takesJson) wholeBodyCases(b);
  else add('body', 'a JSON body', { ...baseline, body: '{"a":1}', headers: json }, { kind: 'refused' });
  if (ctx.takesMultipart.has(op.route)) cases.push(...multipartCases(op, baseline.url, sender));
  return bounded(cases);
}

/** Path, query and header parameters: each hostile value in turn, and the other user's objects. */
function parameterCases({ op, ctx, sender, params, query, baseline, add }: Builder): void {
  for (const p of op.params('path')) {
    for (const value of urlCandidates(p.schema, p.name, 'path'))
      add(`path.${p.name}`, value.label, { url: urlOf(op.path, { ...params, [p.name]: value.value as string }, query) }, expectOf(value));
    const kind = kindOfParam(op.path, p.name);
    const theirs = kind && p.name === 'id' ? ctx.other.ids[kind]?.[0] : undefined;
    if (theirs && sender === 'user')
      add(
        `path.${p.name}`,
        `another user's ${kind}`,
        { url: urlOf(op.path, { ...params, [p.name]: theirs }, query) },
        { kind: 'status', status: 404 },
      );
  }
  for (const p of op.params('query')) {
    const rest = query.filter(([name]) => name !== p.name);
    const sample = String(sampleValue(p.schema, p.name));
    for (const value of urlCandidates(p.schema, p.name, 'query'))
      add(`query.${p.name}`, value.label, { url: urlOf(op.path, params, [...rest, [p.name, value.value as string]]) }, expectOf(value));
    add(
      `query.${p.name}`,
      'given twice',
      { url: urlOf(op.path, params, [...rest, [p.name, sample], [p.name, sample]]) },
      { kind: validFor(p.schema, [sample, sample]) ? 'any' : 'refused' },
    );
    // A filter naming another user's object finds nothing of theirs (the answers are searched for their ids).
    for (const [label, ref] of theirReferences(p.name, ctx.other))
      add(`query.${p.name}`, label, { url: urlOf(op.path, params, [...rest, [p.name, ref]]) }, { kind: 'any' });
  }
  add(
    'query',
    'undeclared parameters',
    { url: `${baseline.url}${query.length ? '&' : '?'}constructor=1&__proto__=1&state=${'a.'.repeat(100)}` },
    { kind: 'any' },
  );
  for (const p of op.params('header')) {
    for (const value of urlCandidates(p.schema, p.name, 'header'))
      add(`header.${p.name}`, value.label, { ...baseline, headers: { [p.name]: value.value as string } }, expectOf(value));
  }
}

/** Each property of the JSON body, nested ones included, in turn: hostile values and the other user's objects. */
function propertyCases({ ctx, sender, book, baseBody, baseline, add }: Builder, schema: JsonSchema): void {
  for (const { path, schema: leaf } of bodyLocations(schema)) {
    const name = String(path.filter((key) => typeof key === 'string').at(-1) ?? '');
    const where = `body.${path.join('.')}`;
    const put = (value: unknown) => jsonText(withValueAt(baseBody, schema, path, value, idForName(book)));
    for (const value of bodyCandidates(leaf, name))
      add(where, value.label, { ...baseline, body: put(value.value) }, expectOf(value), { heavy: value.heavy ?? false });
    const kind = kindOfName(name);
    const theirs = kind && schemaType(leaf) === 'string' ? ctx.other.ids[kind]?.[0] : undefined;
    // A reference to another user's object: as if it did not exist. Inside a list it is a filter.
    if (theirs && sender === 'user')
      add(
        where,
        `another user's ${kind}`,
        { ...baseline, body: put(theirs) },
        typeof path.at(-1) === 'number' ? { kind: 'any' } : { kind: 'status', status: 404 },
      );
  }
}

/** The body as a whole: not JSON, the wrong JSON, prototype keys, deep nesting, too large, the wrong type. */
function wholeBodyCases({ op, ctx, baseBody, baseline, add }: Builder): void {
  const schema = op.jsonBody ?? {};
  const whole = (input: string, body: string, expect: Expectation, options: { heavy?: boolean; headers?: Record<string, string> } = {}) =>
    add('body', input, { ...baseline, body, headers: { ...json, ...options.headers } }, expect, options);
  const validity = (value: unknown): Expectation => ({ kind: op.jsonBody && validFor(schema, value) ? 'any' : 'refused' });
  const withUnknown = { ...(baseBody as object), unknownProperty: 1 };
  whole('not JSON', '{"a":', { kind: 'refused' });
  whole('an empty body', '', { kind: 'any' });
  whole('a JSON list', '[1]', validity([1]));
  whole('a JSON string', '"x"', validity('x'));
  whole('JSON null', 'null', { kind: 'any' });
  whole('a "__proto__" key', protoKey.text, { kind: 'refused' });
  whole('an unknown property', jsonText(withUnknown), validity(withUnknown));
  whole('a text/plain body', jsonText(baseBody), { kind: 'refused' }, { headers: { 'content-type': 'text/plain' } });
  whole('30,000 levels of nesting', deepList.text, { kind: 'refused' }, { heavy: true });
  whole('30,000 nested objects', deepObject.text, { kind: 'refused' }, { heavy: true });
  // Four times the limit: large enough that a server closing the socket early cuts the upload short.
  whole('a body past BODY_LIMIT_BYTES', jsonText({ padding: 'x'.repeat(4 * ctx.bodyLimitBytes) }), { kind: 'refused' }, { heavy: true });
}

const maxCasesPerRoute = 200;

/** At most 200 cases a route: past that, an even sample of the body-property cases (the rest are all kept). */
function bounded(cases: HostileCase[]): HostileCase[] {
  const isLeaf = (c: HostileCase) => c.where.startsWith('body.') && !c.input.startsWith("another user's");
  const leaves = cases.filter(isLeaf);
  const room = maxCasesPerRoute - (cases.length - leaves.length);
  if (leaves.length <= room) return cases;
  const kept = new Set(Array.from({ length: Math.max(room, 0) }, (_, i) => leaves[Math.floor((i * leaves.length) / room)]));
  return cases.filter((c) => !isLeaf(c) || kept.has(c));
}

/** Another user's objects as a query value names them: the bare id, and `kind:id` for topics. */
function theirReferences(name: string, other: IdBook): Array<[string, string]> {
  const kind = kindOfName(name);
  if (kind && other.ids[kind]?.[0]) return [[`another user's ${kind}`, other.ids[kind][0]]];
  if (!/topic/i.test(name)) return [];
  return Object.entries(other.ids)
    .filter(([, ids]) => ids[0])
    .map(([kind, ids]) => [`another user's ${kind} as a topic`, `${kind.replace(/s$/, '')}:${ids[0]}`]);
}

/**
 * The multipart form of the knowledge upload. The document describes no multipart fields, so the
 * field names (`title`, `metadata`) are the upload's; the hazards are general: NUL characters,
 * `constructor`/`__proto__` names, prototype keys and deep nesting inside a JSON field, a body cut short.
 */
function multipartCases(op: Operation, url: string, sender: Sender): HostileCase[] {
  const file = (content = `probe ${randomBytes(6).toString('hex')}`, filename = 'probe.txt'): MultipartPart => ({
    name: 'file',
    filename,
    type: 'text/plain',
    content,
  });
  const form = (
    input: string,
    parts: MultipartPart[],
    expect: Expectation,
    options: { truncated?: boolean; heavy?: boolean } = {},
  ): HostileCase => {
    const { body, contentType } = multipartBody(parts, options);
    return {
      route: op.route,
      where: 'multipart',
      input,
      sender,
      request: { method: op.method, url, headers: { 'content-type': contentType }, body },
      expect,
      heavy: options.heavy ?? false,
    };
  };
  const refused = { kind: 'refused' } as const;
  return [
    form('a NUL character in a field', [{ name: 'title', value: 'a\u0000b' }, file()], refused),
    form('a NUL character in a field name', [{ name: 'ti\u0000tle', value: 'x' }, file()], refused),
    form('a field named "constructor"', [{ name: 'constructor', value: 'x' }, file()], refused),
    form('a field named "__proto__"', [{ name: '__proto__', value: 'x' }, file()], refused),
    form(
      'a "constructor" key in a JSON field',
      [{ name: 'metadata', value: '{"constructor":{"prototype":{"polluted":true}}}' }, file()],
      refused,
    ),
    form('a "__proto__" key in a JSON field', [{ name: 'metadata', value: '{"__proto__":{"polluted":true}}' }, file()], refused),
    form('8 KB of text in a field', [{ name: 'title', value: urlText }, file()], { kind: 'any' }),
    form('a NUL character in the file name', [file(undefined, 'a\u0000b.txt')], { kind: 'any' }),
    form('a body cut short', [{ name: 'title', value: 'x' }, file()], refused, { truncated: true }),
    form('a JSON field nested 30,000 deep', [{ name: 'metadata', value: deepInObject.text }, file()], refused, { heavy: true }),
    form('a file of 1 MB of text', [file(megabyteText)], { kind: 'any' }, { heavy: true }),
  ];
}

/** Malformed credentials, on one route: the auth hook is the same for all. */
export function credentialCases(op: Operation): HostileCase[] {
  const url = urlOf(op.path, {});
  const cases: Array<[string, string]> = [
    ['an empty bearer token', 'Bearer '],
    ['a bearer token of 8 KB', `Bearer ${urlText}`],
    ['a made-up token', `Bearer agt_${randomBytes(32).toString('base64url')}`],
    ['basic credentials', `Basic ${Buffer.from('admin:admin').toString('base64')}`],
    ['a token with a NUL character', 'Bearer agt_%00'],
    // A burst past AUTH_FAILURE_LIMIT (20 a minute by default): the address is refused, valid tokens must not be.
    ...Array.from({ length: 30 }, (_, i): [string, string] => [
      `made-up token ${i + 2} of a burst`,
      `Bearer agt_${randomBytes(32).toString('base64url')}`,
    ]),
  ];
  return cases.map(([input, authorization]) => ({
    route: op.route,
    where: 'auth',
    input,
    sender: 'anonymous' as const,
    request: { method: op.method, url, headers: { authorization } },
    expect: { kind: 'status' as const, status: 401 },
    heavy: false,
  }));
}
