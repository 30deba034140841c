import { randomUUID } from 'node:crypto';
import { sampleValue, type IdFor, type JsonSchema } from './sample-value.ts';

export interface OpenApiParameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface OpenApiOperation {
  summary?: string;
  security?: unknown[];
  parameters?: OpenApiParameter[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  responses?: Record<string, { content?: Record<string, { schema: JsonSchema }> }>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
}

/** One operation of the document, with what the suite needs to know about it. */
export interface Operation {
  method: string;
  /** The path template, `/v1/sessions/{id}/status`. */
  path: string;
  route: string;
  spec: OpenApiOperation;
  /** `security: []`: callable without a token. */
  isPublic: boolean;
  /** The summary ends "(admin)": an ordinary user is refused with 403. */
  adminOnly: boolean;
  /** The schema of its JSON body, when the document declares one. */
  jsonBody: JsonSchema | undefined;
  params(where: OpenApiParameter['in']): OpenApiParameter[];
}

const methods = ['get', 'post', 'put', 'patch', 'delete'];

export function operationsOf(doc: OpenApiDocument): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    methods
      .filter((method) => item[method])
      .map((method) => {
        const spec = item[method]!;
        return {
          method: method.toUpperCase(),
          path,
          route: `${method.toUpperCase()} ${path}`,
          spec,
          isPublic: Array.isArray(spec.security) && spec.security.length === 0,
          adminOnly: /\(admin\)\s*$/.test(spec.summary ?? ''),
          jsonBody: spec.requestBody?.content['application/json']?.schema,
          params: (where: OpenApiParameter['in']) => (spec.parameters ?? []).filter((p) => p.in === where),
        };
      }),
  );
}

/**
 * A user's objects as the API lists them. The kind of an id is the path segment that names its
 * collection (`agents`, `sessions`, `conversations`), so `{id}` in `/v1/sessions/{id}` and
 * `conversationId` in a body find their objects without a table in the suite.
 */
export interface IdBook {
  ids: Record<string, string[]>;
  /** Other fields of listed items, by kind and field name (`integrations` → `provider`). */
  values: Record<string, Record<string, string[]>>;
}

export const emptyBook = (): IdBook => ({ ids: {}, values: {} });

/** The literal segment before a path parameter: `/v1/sessions/{id}` → `sessions`. */
export function kindOfParam(path: string, param: string): string | undefined {
  const segments = path.split('/');
  const at = segments.indexOf(`{${param}}`);
  return at > 0 ? segments[at - 1] : undefined;
}

/** `agentId` → `agents`, `documentIds` → `documents`; undefined for names that are no reference. */
export function kindOfName(name: string): string | undefined {
  const match = /^([a-z][A-Za-z]*?)Ids?$/.exec(name);
  return match ? `${match[1]}s` : undefined;
}

export const idForName =
  (book: IdBook): IdFor =>
  (name) => {
    const kind = kindOfName(name);
    return kind ? book.ids[kind]?.[0] : undefined;
  };

/** Values for an operation's path parameters: the sender's own objects, or fresh ids for deletes. */
export function pathValues(operation: Operation, book: IdBook): Record<string, string> {
  return Object.fromEntries(
    operation.params('path').map((p) => {
      const kind = kindOfParam(operation.path, p.name) ?? '';
      // A delete that something lets through must not remove what the other cases use.
      if (operation.method === 'DELETE') return [p.name, randomUUID()];
      const own = p.name === 'id' ? book.ids[kind]?.[0] : book.values[kind]?.[p.name]?.[0];
      return [p.name, own ?? String(sampleValue(p.schema, p.name))];
    }),
  );
}

/** The query parameters the operation requires, with sample values. */
export function requiredQuery(operation: Operation): Array<[string, string]> {
  return operation
    .params('query')
    .filter((p) => p.required)
    .map((p) => [p.name, String(sampleValue(p.schema, p.name))]);
}

export function urlOf(path: string, values: Record<string, string>, query: Array<[string, string]> = []): string {
  const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(values[name] ?? ''));
  const search = query.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join('&');
  return search ? `${filled}?${search}` : filled;
}

/** Operations that list a user's objects: a GET with no required query whose answer holds a list. */
export function listOperations(operations: Operation[]): Operation[] {
  return operations.filter((op) => {
    if (op.method !== 'GET' || op.isPublic || op.params('query').some((p) => p.required)) return false;
    const schema = op.spec.responses?.['200']?.content?.['application/json']?.schema;
    return Object.values(schema?.properties ?? {}).some((property) => property.type === 'array');
  });
}
