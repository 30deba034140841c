import { kindOfParam, listOperations, urlOf, type IdBook, type Operation } from './openapi-operations.ts';

type Json = Record<string, unknown>;

/** A user's side of the API, for setting up and for looking at what the cases left behind. */
export interface ApiClient {
  call(method: string, url: string, body?: unknown): Promise<{ status: number; json: Json }>;
}

export function clientFor(base: () => string, token: string): ApiClient {
  return {
    async call(method, url, body) {
      const response = await fetch(`${base()}${url}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      return { status: response.status, json: (text ? JSON.parse(text) : {}) as Json };
    },
  };
}

async function ok(client: ApiClient, method: string, url: string, body?: unknown): Promise<Json> {
  const { status, json } = await client.call(method, url, body);
  if (status >= 300) throw new Error(`${method} ${url} answered ${status}: ${JSON.stringify(json)}`);
  return json;
}

/**
 * One of everything a user owns: an agent, a template, a session with a conversation, a turn and a
 * named checkpoint, a token, a document (where the knowledge base is available) and a connection
 * to an MCP server. Its ids are what the other user's cases send.
 */
export async function seedUser(client: ApiClient, tag: string, mcpUrl: string): Promise<void> {
  const { agent } = (await ok(client, 'POST', '/v1/agents', { name: `Agent of ${tag}` })) as { agent: { id: string } };
  await ok(client, 'POST', '/v1/templates', {
    slug: `private-${tag}`,
    name: `Template of ${tag}`,
    description: 'A seed.',
    category: 'Testing',
    systemPrompt: 'You help.',
  });
  const { session } = (await ok(client, 'POST', '/v1/sessions', { agentId: agent.id, context: { owner: tag } })) as {
    session: { id: string };
  };
  const { conversation } = (await ok(client, 'POST', `/v1/sessions/${session.id}/conversations`, { title: `Talk of ${tag}` })) as {
    conversation: { id: string };
  };
  await ok(client, 'POST', `/v1/conversations/${conversation.id}/messages?wait=true`, { content: `Hello from ${tag}` });
  await ok(client, 'POST', `/v1/sessions/${session.id}/checkpoints`, { name: `Checkpoint of ${tag}` });
  await ok(client, 'POST', '/v1/tokens', { name: `Token of ${tag}` });
  await ok(client, 'POST', '/v1/integrations/custom-mcp/connect', { apiKey: `key-of-${tag}`, mcpUrl });
  const upload = await client.call('POST', '/v1/knowledge/documents', {
    title: `Notes of ${tag}`,
    content: `Sea kayaks track straight; ${tag} wrote this.`,
  });
  if (upload.status === 503) return; // the knowledge base needs pgvector, which this PostgreSQL may lack
  if (upload.status >= 300) throw new Error(`the upload answered ${upload.status}: ${JSON.stringify(upload.json)}`);
  const id = (upload.json as { document: { id: string } }).document.id;
  for (let i = 0; i < 100; i++) {
    const { document } = (await ok(client, 'GET', `/v1/knowledge/documents/${id}`)) as { document: { status: string } };
    if (document.status === 'completed' || document.status === 'failed') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the seed document was not processed within 10 s');
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What a user can list, read through the document's own list routes: every `id` in the answer of
 * `GET /v1/agents` is an `agents` id, and so on; list routes under an object (`/v1/sessions/{id}/
 * conversations`) are read for the user's first object of that kind. Also the answers themselves,
 * to compare before and after.
 */
export interface UserState {
  book: IdBook;
  /** Each list route's answer, by URL. */
  answers: Record<string, unknown>;
  /** For objects listed under another (a session's checkpoints), that object's id. */
  parentOf: Record<string, string>;
}

export async function readUser(client: ApiClient, operations: Operation[]): Promise<UserState> {
  const book: IdBook = { ids: {}, values: {} };
  const answers: Record<string, unknown> = {};
  const parentOf: Record<string, string> = {};
  const lists = listOperations(operations).filter((op) => op.params('path').length <= 1);
  for (const round of [0, 1, 2]) {
    for (const op of lists.filter((o) => o.params('path').length === (round === 0 ? 0 : 1))) {
      const param = op.params('path')[0];
      const parentKind = param ? kindOfParam(op.path, param.name) : undefined;
      const parent = parentKind ? book.ids[parentKind]?.[0] : undefined;
      if (param && (!parent || param.name !== 'id')) continue;
      const url = urlOf(op.path, parent ? { id: parent } : {});
      if (url in answers) continue;
      const { status, json } = await client.call('GET', url);
      if (status !== 200) continue;
      answers[url] = json;
      const found = collect(
        book,
        op.path
          .split('/')
          .filter((s) => s && !s.startsWith('{'))
          .at(-1)!,
        json,
      );
      if (parent) for (const id of found) parentOf[id] = parent;
    }
  }
  return { book, answers, parentOf };
}

/** Files the ids and fields of a list answer under its kind; returns the ids it found. */
function collect(book: IdBook, kind: string, answer: Json): string[] {
  const found: string[] = [];
  const ids = (book.ids[kind] ??= []);
  const values = (book.values[kind] ??= {});
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key !== 'id' || typeof value !== 'string' || !uuid.test(value)) walk(value);
      else {
        found.push(value);
        if (!ids.includes(value)) ids.push(value);
      }
    }
  };
  for (const list of Object.values(answer).filter(Array.isArray)) {
    for (const item of list as unknown[]) {
      walk(item);
      for (const [field, value] of Object.entries(item as Json)) if (typeof value === 'string') (values[field] ??= []).push(value);
    }
  }
  return found;
}

/** Puts the ids only this user has first, so "the user's own object" is not a shared one (a built-in template). */
export function privateFirst(book: IdBook, other: IdBook): IdBook {
  const shared = new Set(Object.values(other.ids).flat());
  const ids = Object.fromEntries(
    Object.entries(book.ids).map(([kind, list]) => [
      kind,
      [...list.filter((id) => !shared.has(id)), ...list.filter((id) => shared.has(id))],
    ]),
  );
  return { ids, values: book.values };
}

/** Only the ids this user has and the other cannot see. */
export function privateOnly(book: IdBook, other: IdBook): IdBook {
  const shared = new Set(Object.values(other.ids).flat());
  return {
    ids: Object.fromEntries(Object.entries(book.ids).map(([kind, list]) => [kind, list.filter((id) => !shared.has(id))])),
    values: {},
  };
}
