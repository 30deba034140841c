import { randomUUID } from 'node:crypto';

/** The part of JSON Schema (as @fastify/swagger writes it into /openapi.json) the suite reads. */
export interface JsonSchema {
  type?: string | string[];
  format?: string;
  pattern?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  nullable?: boolean;
  $ref?: string;
}

/** The one JSON type a schema asks for, or 'any' when it takes several (or says nothing). */
export type SchemaType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'any';

export function schemaType(schema: JsonSchema): SchemaType {
  if (schema.anyOf || schema.oneOf || schema.$ref) return 'any';
  const types = [schema.type ?? []].flat().filter((t) => t !== 'null');
  if (types.length !== 1) return schema.properties ? 'object' : 'any';
  return types[0] as SchemaType;
}

/** Chooses real ids for properties that name another object (`agentId`, `conversationId`). */
export type IdFor = (name: string) => string | undefined;

// Strings tried, in order, against a `pattern` until one matches (slugs, model ids, provider ids).
const patternCandidates = ['sample', 'Sample', 'local:offline', 'sample_1', '1', 'x'];
let emails = 0;

/**
 * A small valid value for a schema: required properties only, the first enum value, the lowest
 * number allowed. Hostile values replace one location of it at a time, so each one reaches past
 * the checks of the fields around it.
 */
export function sampleValue(schema: JsonSchema, name = '', idFor: IdFor = () => undefined): unknown {
  if (schema.enum?.length) return schema.enum[0];
  if (schema.anyOf?.[0]) return sampleValue(schema.anyOf[0], name, idFor);
  if (schema.oneOf?.[0]) return sampleValue(schema.oneOf[0], name, idFor);
  switch (schemaType(schema)) {
    case 'string':
      return sampleString(schema, name, idFor);
    case 'integer':
    case 'number':
      return Math.min(Math.max(1, schema.minimum ?? 1), schema.maximum ?? 1);
    case 'boolean':
      return false;
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => sampleValue(schema.items ?? {}, name, idFor));
    case 'object':
      return Object.fromEntries((schema.required ?? []).map((key) => [key, sampleValue(schema.properties?.[key] ?? {}, key, idFor)]));
    default:
      return 'sample';
  }
}

function sampleString(schema: JsonSchema, name: string, idFor: IdFor): string {
  if (schema.format === 'uuid') return idFor(name) ?? randomUUID();
  if (schema.format === 'email') return `probe-${++emails}@example.test`;
  if (schema.format === 'date-time') return new Date().toISOString();
  const id = idFor(name);
  if (id) return id;
  if (schema.pattern) {
    const pattern = new RegExp(schema.pattern, 'u');
    const match = patternCandidates.find((candidate) => pattern.test(candidate));
    if (match) return match;
  }
  return 'sample'.padEnd(schema.minLength ?? 0, 'x').slice(0, schema.maxLength ?? Infinity);
}

/** A place in a request body the suite puts a hostile value: its path and its schema. */
export interface BodyLocation {
  path: Array<string | number>;
  schema: JsonSchema;
}

/**
 * Every property of a body schema, nested objects and list items included (down to `maxDepth`),
 * and one made-up key of each open record (`context`, `metadata`, `variables`).
 */
export function bodyLocations(schema: JsonSchema, path: Array<string | number> = [], maxDepth = 4): BodyLocation[] {
  if (path.length >= maxDepth) return [];
  const found: BodyLocation[] = [];
  const visit = (key: string | number, child: JsonSchema) => {
    found.push({ path: [...path, key], schema: child });
    found.push(...bodyLocations(child, [...path, key], maxDepth));
  };
  const type = schemaType(schema);
  if (type === 'object') {
    for (const [key, child] of Object.entries(schema.properties ?? {})) visit(key, child);
    if (schema.additionalProperties && !schema.properties)
      visit('x', schema.additionalProperties === true ? {} : schema.additionalProperties);
  } else if (type === 'array' && schema.items) {
    visit(0, schema.items);
  }
  return found;
}

/** The sample body with `value` put at `path`, creating the objects and lists on the way. */
export function withValueAt(body: unknown, schema: JsonSchema, path: Array<string | number>, value: unknown, idFor: IdFor): unknown {
  const root = structuredClone(body ?? sampleValue(schema, '', idFor)) as Record<string | number, unknown>;
  let node = root;
  let nodeSchema = schema;
  path.forEach((key, index) => {
    const childSchema = (typeof key === 'number' ? nodeSchema.items : nodeSchema.properties?.[key]) ?? additional(nodeSchema);
    if (index === path.length - 1) {
      node[key] = value;
      return;
    }
    if (node[key] === undefined || node[key] === null || (Array.isArray(node[key]) && (node[key] as unknown[]).length === 0)) {
      node[key] = typeof path[index + 1] === 'number' ? [] : sampleValue(childSchema, String(key), idFor);
    }
    const next = node[key] as Record<string | number, unknown>;
    if (typeof path[index + 1] === 'number' && Array.isArray(next) && next.length === 0)
      next.push(sampleValue(childSchema.items ?? {}, String(key), idFor));
    node = next;
    nodeSchema = childSchema;
  });
  return root;
}

function additional(schema: JsonSchema): JsonSchema {
  return typeof schema.additionalProperties === 'object' ? schema.additionalProperties : {};
}
