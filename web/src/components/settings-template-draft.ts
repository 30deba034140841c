import { parse, stringify, YAMLParseError } from 'yaml';
import type { Template, TemplateVariable } from '../api-shapes.ts';

/*
 * A template being edited, in the two shapes the editor offers: a form (strings as typed, lists
 * as comma-separated text) and YAML. Both convert through the definition the API takes, and
 * fields the form has no input for (tags, examples, model, a variable's default or bounds) ride
 * along untouched, so switching between the two never loses anything.
 */

export const variableTypes: ReadonlyArray<TemplateVariable['type']> = ['string', 'number', 'boolean', 'enum', 'date', 'list'];

export interface VariableRow {
  /** Stable across edits, so a row keeps its inputs (and focus) when another is removed. */
  key: number;
  name: string;
  type: string;
  required: boolean;
  description: string;
  /** An enum's values, comma-separated. */
  values: string;
  /** The variable's other fields (default, min, max, or anything the YAML said). */
  rest: Record<string, unknown>;
}

export interface StepRow {
  key: number;
  instruction: string;
  /** Tool names, comma-separated. */
  tools: string;
  rest: Record<string, unknown>;
}

export interface TemplateForm {
  slug: string;
  name: string;
  description: string;
  category: string;
  systemPrompt: string;
  userPrompt: string;
  variables: VariableRow[];
  requiredIntegrations: string;
  optionalIntegrations: string;
  steps: StepRow[];
  /** Top-level fields without an input here (tags, examples, model, …). */
  rest: Record<string, unknown>;
}

let nextKey = 1;
function rowKey(): number {
  return nextKey++;
}

type Fields = Record<string, unknown>;

const isFields = (value: unknown): value is Fields => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string =>
  value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
const commaList = (value: unknown): string => (Array.isArray(value) ? value.map(text).join(', ') : text(value));
const listOf = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

function without(fields: object, names: string[]): Fields {
  return Object.fromEntries(Object.entries(fields).filter(([name]) => !names.includes(name)));
}

export function emptyVariable(): VariableRow {
  return { key: rowKey(), name: '', type: 'string', required: false, description: '', values: '', rest: {} };
}

export function emptyStep(): StepRow {
  return { key: rowKey(), instruction: '', tools: '', rest: {} };
}

export function emptyForm(): TemplateForm {
  return {
    slug: '',
    name: '',
    description: '',
    category: '',
    systemPrompt: '',
    userPrompt: '',
    variables: [],
    requiredIntegrations: '',
    optionalIntegrations: '',
    steps: [],
    rest: {},
  };
}

/**
 * What `POST /v1/templates` and `PUT /v1/templates/:id` take, from a template the API answered
 * with: everything but what the server adds (so a new version starts from the current one).
 */
export function definitionOf(template: Template): Fields {
  return without(template, ['id', 'version', 'builtIn', 'createdAt', 'available', 'missingIntegrations']);
}

/**
 * The form for a definition, whatever the YAML held: values of the wrong type are shown as text
 * (the server names them when saved), unknown fields are kept aside.
 */
export function formOf(definition: Fields): TemplateForm {
  const integrations = isFields(definition.integrations) ? definition.integrations : {};
  const variables = Array.isArray(definition.variables) ? definition.variables.filter(isFields) : [];
  const steps = Array.isArray(definition.steps) ? definition.steps.filter(isFields) : [];
  return {
    slug: text(definition.slug),
    name: text(definition.name),
    description: text(definition.description),
    category: text(definition.category),
    systemPrompt: text(definition.systemPrompt),
    userPrompt: text(definition.userPrompt),
    variables: variables.map((variable) => ({
      key: rowKey(),
      name: text(variable.name),
      type: text(variable.type) || 'string',
      required: variable.required === true,
      description: text(variable.description),
      values: commaList(variable.values),
      rest: without(variable, ['name', 'type', 'required', 'description', 'values']),
    })),
    requiredIntegrations: commaList(integrations.required),
    optionalIntegrations: commaList(integrations.optional),
    steps: steps.map((step) => ({
      key: rowKey(),
      instruction: text(step.instruction),
      tools: commaList(step.tools),
      rest: without(step, ['instruction', 'tools']),
    })),
    rest: without(definition, [
      'slug',
      'name',
      'description',
      'category',
      'systemPrompt',
      'userPrompt',
      'variables',
      'integrations',
      'steps',
    ]),
  };
}

/** The order fields are written in, as in the README's example; any others follow. */
const fieldOrder = [
  'slug',
  'name',
  'description',
  'category',
  'tags',
  'systemPrompt',
  'userPrompt',
  'variables',
  'integrations',
  'steps',
  'examples',
  'model',
];

/** The definition a form describes; empty optional inputs are left out rather than sent empty. */
export function formDefinition(form: TemplateForm): Fields {
  const fields: Fields = {
    ...form.rest,
    slug: form.slug.trim(),
    name: form.name,
    description: form.description,
    category: form.category,
    systemPrompt: form.systemPrompt,
    ...(form.userPrompt !== '' ? { userPrompt: form.userPrompt } : {}),
    variables: form.variables.map((row) => ({
      name: row.name.trim(),
      type: row.type,
      ...(row.required ? { required: true } : {}),
      ...(row.description.trim() ? { description: row.description } : {}),
      ...(row.type === 'enum' ? { values: listOf(row.values) } : {}),
      ...row.rest,
    })),
    integrations: { required: listOf(form.requiredIntegrations), optional: listOf(form.optionalIntegrations) },
    steps: form.steps.map((row) => {
      const tools = listOf(row.tools);
      return { instruction: row.instruction, ...(tools.length > 0 ? { tools } : {}), ...row.rest };
    }),
  };
  const known = fieldOrder.filter((name) => name in fields);
  const others = Object.keys(fields).filter((name) => !fieldOrder.includes(name));
  return Object.fromEntries([...known, ...others].map((name) => [name, fields[name]]));
}

export function toYaml(definition: Fields): string {
  return stringify(definition, { lineWidth: 0 });
}

export type YamlResult = { ok: true; definition: Fields } | { ok: false; message: string };

/** YAML read as a definition, or a message naming the line of the first mistake. */
export function fromYaml(source: string): YamlResult {
  let value: unknown;
  try {
    value = parse(source);
  } catch (error) {
    if (!(error instanceof YAMLParseError)) throw error;
    const where = error.linePos?.[0];
    const reason = (error.message.split('\n')[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, '');
    return {
      ok: false,
      message: where ? `The YAML has a mistake on line ${where.line}, column ${where.col}: ${reason}` : `The YAML has a mistake: ${reason}`,
    };
  }
  if (!isFields(value))
    return { ok: false, message: 'The YAML must be a set of template fields, such as "slug: my-template" and "name: My template".' };
  return { ok: true, definition: value };
}
