import { AppError } from '../errors.ts';

export const variableTypes = ['string', 'number', 'boolean', 'enum', 'date', 'list'] as const;
export type VariableType = (typeof variableTypes)[number];

export interface VariableDefinition {
  name: string;
  type: VariableType;
  required?: boolean | undefined;
  default?: VariableValue | undefined;
  description?: string | undefined;
  /** The allowed values of an enum. */
  values?: string[] | undefined;
  /** A number's range, a string's length, a list's item count, or a date's range (YYYY-MM-DD). */
  min?: number | string | undefined;
  max?: number | string | undefined;
}

/** A value after coercion: what the prompt renders and the cache key hashes. */
export type VariableValue = string | number | boolean | string[];
export type ResolvedVariables = Record<string, VariableValue>;

/** Caps that apply when a variable declares none, so one value cannot swamp a prompt. */
export const maxStringLength = 20_000;
export const maxListItems = 100;
export const maxListItemLength = 2_000;

const isoDate = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real calendar date written YYYY-MM-DD. */
export function isIsoDate(value: string): boolean {
  const match = isoDate.exec(value);
  if (!match) return false;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return date.toISOString().slice(0, 10) === value;
}

/**
 * Checks and coerces one value against its declaration: numeric strings become numbers,
 * "true"/"false" booleans, a comma- or newline-separated string a list. Returns the reason a
 * person would need when the value does not fit.
 */
export function coerceVariable(variable: VariableDefinition, raw: unknown): { value: VariableValue } | { problem: string } {
  const { min, max } = variable;
  switch (variable.type) {
    case 'string': {
      if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') return { problem: 'must be text' };
      const value = String(raw);
      const longest = typeof max === 'number' ? max : maxStringLength;
      if (value.length > longest)
        return { problem: `must be at most ${longest.toLocaleString('en')} characters (it has ${value.length.toLocaleString('en')})` };
      if (typeof min === 'number' && value.length < min) return { problem: `must be at least ${min} characters` };
      return { value };
    }
    case 'number': {
      const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isFinite(value)) return { problem: 'must be a number' };
      if (typeof min === 'number' && value < min) return { problem: `must be at least ${min}` };
      if (typeof max === 'number' && value > max) return { problem: `must be at most ${max}` };
      return { value };
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return { value: raw };
      if (raw === 'true' || raw === 'false') return { value: raw === 'true' };
      return { problem: 'must be true or false' };
    }
    case 'enum': {
      const values = variable.values ?? [];
      if (typeof raw === 'string' && values.includes(raw)) return { value: raw };
      return { problem: `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}` };
    }
    case 'date': {
      if (typeof raw !== 'string' || !isIsoDate(raw)) return { problem: 'must be a date written YYYY-MM-DD' };
      if (typeof min === 'string' && raw < min) return { problem: `must be on or after ${min}` };
      if (typeof max === 'string' && raw > max) return { problem: `must be on or before ${max}` };
      return { value: raw };
    }
    case 'list': {
      const items =
        typeof raw === 'string'
          ? raw
              .split(/[,\n]/)
              .map((item) => item.trim())
              .filter(Boolean)
          : raw;
      if (!Array.isArray(items) || !items.every((item) => typeof item === 'string' || typeof item === 'number')) {
        return { problem: 'must be a list of text items' };
      }
      const most = typeof max === 'number' ? max : maxListItems;
      if (items.length > most) return { problem: `must have at most ${most} items` };
      if (typeof min === 'number' && items.length < min) return { problem: `must have at least ${min} items` };
      const value = items.map(String);
      if (value.some((item) => item.length > maxListItemLength))
        return { problem: `items must be at most ${maxListItemLength.toLocaleString('en')} characters` };
      return { value };
    }
  }
}

/**
 * Resolves the values a caller sent against the declarations: coerces them, applies defaults,
 * and refuses unknown names, wrong types and missing required values, naming them. An optional
 * variable with neither value nor default is absent (it renders as nothing).
 */
export function resolveVariables(declared: readonly VariableDefinition[], given: Record<string, unknown> = {}): ResolvedVariables {
  const byName = new Map(declared.map((v) => [v.name, v]));
  const unknown = Object.keys(given).filter((name) => !byName.has(name));
  if (unknown.length > 0) {
    throw new AppError('INVALID_VARIABLE', `This template declares no variable ${unknown.map((n) => JSON.stringify(n)).join(', ')}.`, {
      details: {
        variables: unknown,
      },
    });
  }
  const resolved: ResolvedVariables = {};
  const missing: string[] = [];
  // Null, empty text and an empty list all mean "no value": the default applies, or the variable is missing.
  const empty = (value: unknown) => value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
  for (const variable of declared) {
    const value = Object.hasOwn(given, variable.name) ? given[variable.name] : undefined;
    const raw = empty(value) ? variable.default : value;
    if (empty(raw)) {
      if (variable.required) missing.push(variable.name);
      continue;
    }
    const result = coerceVariable(variable, raw);
    if ('problem' in result) {
      throw new AppError('INVALID_VARIABLE', `Variable "${variable.name}" ${result.problem}.`, {
        details: {
          variable: variable.name,
          type: variable.type,
        },
      });
    }
    resolved[variable.name] = result.value;
  }
  if (missing.length > 0) {
    throw new AppError('MISSING_VARIABLES', `Missing required ${missing.length === 1 ? 'variable' : 'variables'}: ${missing.join(', ')}.`, {
      details: {
        missing,
      },
    });
  }
  return resolved;
}
