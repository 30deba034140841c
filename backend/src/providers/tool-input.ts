import type { JSONSchema7, JSONSchema7Definition } from '@ai-sdk/provider';
import { contentWords, lightStem } from './local-hashing-embedder.ts';
import type { RunPlan } from './run-plan.ts';

/** What a tool's input is built from: the step that calls it and the session's plan. */
export interface ToolInputContext {
  /** The step's instruction: placeholders for free text come from it. */
  instruction: string;
  variables: RunPlan['variables'];
  /** Today (YYYY-MM-DD) and the zone of the user: times are the next day's working hours there. */
  today: string;
  timezone: string;
  /** What the user asked (their last message): what a search field looks for when no variable says. */
  request?: string | undefined;
  /** What the run's earlier tool calls answered: a recipient field takes the first address in it when the variables hold none (a reply to mail just listed). */
  seen?: string | undefined;
}

type Variable = RunPlan['variables'][number];

/** Field names of what a search looks for: the user's request fills them when no variable does. */
const searchField = /^(query|q|search|question|keywords?)$/i;
/** Field names that hold recipients: filled with the addresses the variables hold, even when optional. */
const recipientField = /^(to|recipients?|attendees?|invitees?|emails?)$/i;
const placeholderChars = 80;
const fallbackAddress = 'someone@example.com';
/** How much of earlier answers is looked through for an address. */
const seenChars = 20_000;
/** The first time a plan's date-time fields get, the day after today; each later field one hour on. */
const firstHour = 10;

/**
 * An input for a tool, built from its JSON schema alone, for callers that must call a tool without
 * a language model (the offline responder following a template's steps). Required fields are always
 * filled; optional ones only when the session's variables give a value for them. A field takes, in
 * this order: the variable that matches it (by name, or by the words of its description, the step's
 * instruction deciding between several); the schema's const, default or first enum value; a value of its format
 * (date-time: the next day's working hours in the user's zone; date: the next day; email: an
 * address from the variables); for a search field (`query`), what the user asked; a number within its bounds; else a short text from the instruction.
 * Deterministic: the same schema and context give the same input.
 */
export function buildToolInput(schema: JSONSchema7, context: ToolInputContext): Record<string, unknown> {
  const builder = new InputBuilder(context);
  const value = builder.objectValue(schema, true);
  return value ?? {};
}

class InputBuilder {
  private nextHour = firstHour;
  private readonly instructionWords: Set<string>;
  private readonly addresses: string[];

  constructor(private readonly context: ToolInputContext) {
    this.instructionWords = stems(context.instruction);
    const given = context.variables.flatMap((v) => (Array.isArray(v.value) ? v.value : [v.value])).filter(isAddress) as string[];
    this.addresses = given.length > 0 ? given : addressesIn(context.seen ?? '').slice(0, 1);
  }

  objectValue(schema: JSONSchema7, required: boolean): Record<string, unknown> | undefined {
    const properties = schema.properties ?? {};
    const needed = new Set(Array.isArray(schema.required) ? schema.required : []);
    const input: Record<string, unknown> = {};
    // Ends after starts, whatever order the schema lists them in (a schema stored as jsonb comes back with its keys sorted).
    const fields = Object.entries(properties).sort(([a], [b]) => Number(isEndName(a)) - Number(isEndName(b)));
    for (const [name, definition] of fields) {
      if (typeof definition !== 'object') continue;
      const value = this.fieldValue(name, definition, needed.has(name));
      if (value !== undefined) input[name] = value;
    }
    return required || Object.keys(input).length > 0 ? input : undefined;
  }

  private fieldValue(name: string, schema: JSONSchema7, required: boolean): unknown {
    const variable = this.matchingVariable(name, schema, required ? 1 : 2);
    if (variable) {
      const value = fromVariable(variable.value, schema);
      if (value !== undefined) return value;
    }
    if (isRecipients(name, schema) && this.addresses.length > 0) return isArray(schema) ? this.addresses : this.addresses[0];
    const request = this.context.request?.trim();
    if (required && request && searchField.test(name) && typeOf(schema) === 'string') return fromVariable(request, schema);
    return required ? this.invent(schema) : undefined;
  }

  /**
   * The variable a field stands for: among those whose name is the field's (word stems compared),
   * or whose name and description share at least `minShared` words with the field's (an optional
   * field asks for more, so one common word does not fill it), the one most related to the field
   * and to the step's instruction: a digest's "post to" channel, not the channels it reads, for a
   * step that posts.
   */
  private matchingVariable(name: string, schema: JSONSchema7, minShared: number): Variable | undefined {
    const fieldName = nameStems(name);
    const fieldWords = new Set([...fieldName, ...stems(schema.description ?? '')]);
    let best: { variable: Variable; score: number } | undefined;
    for (const variable of this.context.variables) {
      if (variable.value === undefined || variable.value === null || variable.value === '') continue;
      const variableName = nameStems(variable.name);
      const sameName = sameSet(fieldName, variableName);
      const shared = overlap(fieldWords, new Set([...variableName, ...stems(variable.description ?? '')]));
      if (!sameName && shared < minShared) continue;
      const score =
        (sameName ? 1 : 0) + shared + overlap(this.instructionWords, new Set([...variableName, ...stems(variable.description ?? '')]));
      if (!best || score > best.score) best = { variable, score };
    }
    return best?.variable;
  }

  /** A value of the schema's own making, for a required field no variable fills. */
  private invent(schema: JSONSchema7): unknown {
    if (schema.const !== undefined) return schema.const;
    if (schema.default !== undefined) return schema.default;
    if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
    const branch = [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])].find(isSchema);
    if (branch) return this.invent(branch);
    switch (typeOf(schema)) {
      case 'object':
        return this.objectValue(schema, true);
      case 'array': {
        const items = Array.isArray(schema.items) ? schema.items[0] : schema.items;
        const item = isSchema(items) ? this.invent(items) : this.placeholder(schema);
        return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => item);
      }
      case 'boolean':
        return false;
      case 'integer':
      case 'number':
        return clamp(1, schema);
      case 'null':
        return null;
      default:
        return this.stringValue(schema);
    }
  }

  private stringValue(schema: JSONSchema7): string {
    if (schema.format === 'date-time') return this.nextTime();
    if (schema.format === 'date') return dayAfter(this.context.today);
    if (schema.format === 'email') return this.addresses[0] ?? fallbackAddress;
    return this.placeholder(schema);
  }

  /** The next day at 10:00, 11:00, … in the user's zone: later fields of a call (an end) come after earlier ones (a start). */
  private nextTime(): string {
    const day = dayAfter(this.context.today);
    const hour = this.nextHour++;
    return `${day}T${String(hour % 24).padStart(2, '0')}:00:00${zoneOffset(this.context.timezone, `${day}T12:00:00Z`)}`;
  }

  private placeholder(schema: JSONSchema7): string {
    const instruction = plainInstruction(this.context.instruction);
    const max = Math.min(placeholderChars, schema.maxLength ?? placeholderChars);
    const text = instruction.length > max ? `${instruction.slice(0, max - 1).trimEnd()}…` : instruction || 'offline run';
    return text.length >= (schema.minLength ?? 0) ? text : text.padEnd(schema.minLength ?? 0, '.');
  }
}

/**
 * A step's instruction as a user reads it: the prompt's `<value>` delimiters taken out (their text
 * unescaped), spaces collapsed, and no closing punctuation.
 */
export function plainInstruction(instruction: string): string {
  const text = instruction
    .slice(0, 8_000)
    .replace(/<\/?value[^<>]{0,200}>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
  let end = text.length;
  while (end > 0 && '.:;, '.includes(text[end - 1]!)) end--;
  return text.slice(0, end);
}

/** A variable's value in the shape a field takes, or undefined when it does not fit. */
function fromVariable(value: unknown, schema: JSONSchema7): unknown {
  const branch = [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])].find((s) => isSchema(s) && fromVariable(value, s) !== undefined);
  if (isSchema(branch)) return fromVariable(value, branch);
  const items = Array.isArray(value) ? value : [value];
  if (Array.isArray(schema.enum)) return schema.enum.find((option) => items.includes(option));
  switch (typeOf(schema)) {
    case 'array': {
      const item = Array.isArray(schema.items) ? schema.items[0] : schema.items;
      const values = items.map((v) => (isSchema(item) ? fromVariable(v, item) : v)).filter((v) => v !== undefined);
      return values.length > 0 ? values.slice(0, schema.maxItems ?? values.length) : undefined;
    }
    case 'integer':
    case 'number': {
      const number = Number(items[0]);
      return Number.isFinite(number) ? clamp(typeOf(schema) === 'integer' ? Math.round(number) : number, schema) : undefined;
    }
    case 'boolean':
      return typeof items[0] === 'boolean' ? items[0] : undefined;
    case 'string':
    case undefined: {
      const text = items[0] === undefined ? undefined : String(items[0]);
      if (text === undefined || text === '') return undefined;
      return schema.maxLength !== undefined ? text.slice(0, schema.maxLength) : text;
    }
    default:
      return undefined;
  }
}

function typeOf(schema: JSONSchema7): string | undefined {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (type) return type;
  if (schema.properties) return 'object';
  if (schema.items) return 'array';
  return undefined;
}

function isSchema(definition: JSONSchema7Definition | undefined): definition is JSONSchema7 {
  return typeof definition === 'object' && definition !== null;
}

function isArray(schema: JSONSchema7): boolean {
  return typeOf(schema) === 'array';
}

/** Words that name the end of a span (`end`, `timeMax`, `until`): such a field's time comes after the others'. */
const endWords = new Set(['end', 'max', 'until', 'before', 'finish', 'stop']);

function isEndName(name: string): boolean {
  const words = name
    .slice(0, 200)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.some((word) => endWords.has(word));
}

function isRecipients(name: string, schema: JSONSchema7): boolean {
  const items = isSchema(schema.items as JSONSchema7Definition) ? (schema.items as JSONSchema7) : undefined;
  return schema.format === 'email' || items?.format === 'email' || recipientField.test(name);
}

/** The addresses a text holds (a tool's answer, `"Ana Lima <ana@example.org>"` among them), each once, in order. */
function addressesIn(text: string): string[] {
  return [
    ...new Set(
      text
        .slice(0, seenChars)
        .split(/[\s<>()[\]{},;:"'\\]+/)
        .filter(isAddress),
    ),
  ];
}

/** An address as a mail system takes it: one @, something before it, a dotted domain after it. */
function isAddress(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 320 || /\s/.test(value)) return false;
  const at = value.indexOf('@');
  if (at < 1 || at !== value.lastIndexOf('@')) return false;
  const domain = value.slice(at + 1);
  return domain.includes('.') && !domain.startsWith('.') && !domain.endsWith('.');
}

function clamp(value: number, schema: JSONSchema7): number {
  const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : undefined);
  const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : undefined);
  return Math.min(max ?? Infinity, Math.max(min ?? -Infinity, value));
}

/** The word stems of an identifier: `durationMinutes`, `duration_minutes` and `duration-minutes` alike. */
function nameStems(name: string): Set<string> {
  return stems(name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' '));
}

function stems(text: string): Set<string> {
  return new Set(contentWords(text.slice(0, 2_000)).map(lightStem));
}

function overlap(a: Set<string>, b: Set<string>): number {
  let shared = 0;
  for (const word of a) if (b.has(word)) shared++;
  return shared;
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  return a.size > 0 && a.size === b.size && overlap(a, b) === a.size;
}

function dayAfter(day: string): string {
  const date = new Date(`${day}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString().slice(0, 10);
}

/** The zone's offset from UTC at an instant, as RFC 3339 writes it (`+02:00`, `Z`). */
function zoneOffset(timezone: string, at: string): string {
  try {
    const name = new Intl.DateTimeFormat('en-US', { timeZone: timezone, timeZoneName: 'longOffset' })
      .formatToParts(new Date(at))
      .find((part) => part.type === 'timeZoneName')?.value;
    const offset = name?.replace('GMT', '') ?? '';
    return /^[+-]\d{2}:\d{2}$/.test(offset) ? offset : 'Z';
  } catch {
    return 'Z';
  }
}
