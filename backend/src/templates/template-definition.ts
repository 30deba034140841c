import { createRequire } from 'node:module';
import type MustacheModule from 'mustache';
import type { TemplateSpans } from 'mustache';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { isIntegrationToolName, providerIdPattern, providerOfTool } from '../tools/index.ts';
import { coerceVariable, isIsoDate, variableTypes, type VariableDefinition } from './template-variables.ts';

// The package's ESM entry has only a default export; its CommonJS entry matches its types.
export const Mustache = createRequire(import.meta.url)('mustache') as typeof MustacheModule;

/**
 * The one writer that parses and renders. Mustache's default writer keeps every source it has
 * parsed in a cache that never evicts; ours keeps none (compiled templates live in a bounded LRU).
 */
export const writer = Object.assign(new Mustache.Writer(), { templateCache: undefined });

/** Sections nest at most this deep: rendering recurses once per level. */
const maxSectionDepth = 10;

/** Tools every installation has, besides those of connected integrations. */
export const builtInTools = ['knowledge_search'] as const;

/**
 * Names a variable may not take: anything an object, a string or a list already has (`length`,
 * `constructor`, `toString`), so a lookup can only ever find the value the caller supplied.
 */
const reservedNames = new Set([Object.prototype, String.prototype, Array.prototype].flatMap((proto) => Object.getOwnPropertyNames(proto)));

const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max.toLocaleString('en')} characters`);
const source = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max.toLocaleString('en')} characters`);
const label = z
  .string()
  .trim()
  .min(1)
  .max(60)
  .regex(/^[\p{L}\p{N}][\p{L}\p{N} ._-]*$/u, 'must be letters, digits, spaces, ".", "_" or "-"');

const variableSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'must start with a letter and contain only letters, digits and "_" (at most 64)')
      .refine((name) => !reservedNames.has(name), 'is a reserved name'),
    type: z.string().refine((type) => (variableTypes as readonly string[]).includes(type), {
      error: (issue) => `unknown type ${JSON.stringify(issue.input)}: use ${variableTypes.join(', ')}`,
    }),
    required: z.boolean().optional(),
    default: z.union([z.string().max(20_000), z.number(), z.boolean(), z.array(z.string().max(2_000)).max(100)]).optional(),
    description: text(1_000).optional(),
    values: z.array(text(200)).min(1).max(100).optional(),
    min: z.union([z.number(), z.string()]).optional(),
    max: z.union([z.number(), z.string()]).optional(),
  })
  .superRefine((raw, ctx) => {
    const variable = raw as VariableDefinition;
    const bound = variable.type === 'date' ? 'a date written YYYY-MM-DD' : 'a number';
    for (const key of ['min', 'max'] as const) {
      const value = variable[key];
      if (value === undefined) continue;
      if (variable.type === 'boolean' || variable.type === 'enum')
        ctx.addIssue({ code: 'custom', path: [key], message: `does not apply to a ${variable.type}` });
      else if (variable.type === 'date' ? typeof value !== 'string' || !isIsoDate(value) : typeof value !== 'number') {
        ctx.addIssue({ code: 'custom', path: [key], message: `must be ${bound}` });
      }
    }
    if (variable.min !== undefined && variable.max !== undefined && variable.min > variable.max) {
      ctx.addIssue({ code: 'custom', path: ['min'], message: 'must not be greater than max' });
    }
    if (variable.type === 'enum' && !variable.values)
      ctx.addIssue({ code: 'custom', path: ['values'], message: 'an enum needs its values' });
    if (variable.type !== 'enum' && variable.values) ctx.addIssue({ code: 'custom', path: ['values'], message: 'only an enum has values' });
    if (variable.default !== undefined && (variableTypes as readonly string[]).includes(variable.type)) {
      const result = coerceVariable(variable, variable.default);
      if ('problem' in result) ctx.addIssue({ code: 'custom', path: ['default'], message: result.problem });
    }
  });

const stepSchema = z.strictObject({
  instruction: source(4_000),
  tools: z
    .array(
      z.string().refine((tool) => (builtInTools as readonly string[]).includes(tool) || isIntegrationToolName(tool), {
        error: (issue) =>
          `${JSON.stringify(issue.input)} is not a tool name: use ${builtInTools.join(', ')} or provider__tool (e.g. gmail__send_email)`,
      }),
    )
    .max(50)
    .optional(),
});

const providerId = z.string().regex(providerIdPattern, 'must be a provider id such as "gmail" or "google-calendar"');

/** The JSON shape of a template, the same in the API and in the YAML library. */
export const templateDefinitionSchema = z.strictObject({
  slug: z.string().regex(/^[a-z0-9][a-z0-9-]{0,79}$/, 'must be lower-case letters, digits and "-" (at most 80)'),
  name: text(200),
  description: text(2_000),
  category: label,
  tags: z.array(label).max(20).default([]),
  systemPrompt: source(32_000),
  userPrompt: source(8_000).optional(),
  variables: z.array(variableSchema).max(50).default([]),
  integrations: z
    .strictObject({ required: z.array(providerId).max(20).default([]), optional: z.array(providerId).max(20).default([]) })
    .default({ required: [], optional: [] }),
  steps: z.array(stepSchema).max(50).default([]),
  examples: z.array(text(500)).max(50).default([]),
  model: z
    .string()
    .regex(/^[a-z][a-z0-9-]*:[A-Za-z0-9._/:-]{1,100}$/, 'must be provider:model, e.g. openai:gpt-4o-mini')
    .optional(),
});

export type TemplateDefinition = Omit<z.output<typeof templateDefinitionSchema>, 'variables'> & { variables: VariableDefinition[] };

/** A definition checked through and through, with its prompt sources parsed once. */
export interface CompiledTemplate {
  definition: TemplateDefinition;
  systemPrompt: TemplateSpans;
  userPrompt: TemplateSpans | undefined;
  steps: Array<{ instruction: TemplateSpans; tools: string[]; providers: string[] }>;
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const at = issue.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
        .join('')
        .replace(/^\./, '');
      return at ? `${at}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

function invalid(message: string, where?: string): AppError {
  return new AppError('TEMPLATE_INVALID', where ? `${where}: ${message}` : message);
}

/**
 * Validates a template definition (from the API or a library file) and parses its prompt
 * sources. Refuses, naming the place: an unknown field or type, unescaped output, partials,
 * delimiter changes, dotted names, and any variable a source uses without declaring it.
 */
export function compileTemplate(input: unknown): CompiledTemplate {
  const parsed = templateDefinitionSchema.safeParse(input);
  if (!parsed.success) throw invalid(`The template is not valid: ${formatIssues(parsed.error)}.`);
  const definition = parsed.data as TemplateDefinition;
  const variables = new Map(definition.variables.map((v) => [v.name, v]));
  if (variables.size !== definition.variables.length) throw invalid('two variables have the same name', 'variables');
  const { required, optional } = definition.integrations;
  const declaredProviders = new Set([...required, ...optional]);
  if (declaredProviders.size !== required.length + optional.length) throw invalid('a provider is listed twice', 'integrations');

  const steps = definition.steps.map((step, i) => {
    const tools = [...new Set(step.tools ?? [])];
    const providers = [...new Set(tools.map(providerOfTool).filter((p): p is string => p !== undefined))];
    const undeclared = providers.filter((p) => !declaredProviders.has(p));
    if (undeclared.length > 0)
      throw invalid(`uses ${undeclared.join(', ')}, which is not in integrations.required or integrations.optional`, `steps[${i}].tools`);
    return { instruction: parseSource(step.instruction, `steps[${i}].instruction`, variables), tools, providers };
  });
  return {
    definition,
    systemPrompt: parseSource(definition.systemPrompt, 'systemPrompt', variables),
    userPrompt: definition.userPrompt === undefined ? undefined : parseSource(definition.userPrompt, 'userPrompt', variables),
    steps,
  };
}

/** Mustache tokens this engine renders: text, escaped values, sections, inverted sections, comments. */
const allowedTokens = new Set(['text', 'name', '#', '^', '!']);
const refusedTokens: Record<string, string> = {
  '&': 'unescaped output ({{{name}}} or {{&name}}) is not allowed: every value is rendered as delimited data',
  '>': 'partials ({{>name}}) are not allowed',
  '=': 'changing the delimiters ({{=<% %>=}}) is not allowed',
};

function parseSource(template: string, where: string, variables: Map<string, VariableDefinition>): TemplateSpans {
  let tokens: TemplateSpans;
  try {
    tokens = writer.parse(template) as TemplateSpans;
  } catch (error) {
    throw invalid((error as Error).message, where);
  }
  const check = (spans: TemplateSpans, inList: boolean, depth: number) => {
    if (depth > maxSectionDepth) throw invalid(`sections nest more than ${maxSectionDepth} deep`, where);
    for (const span of spans) {
      const [type, name] = span;
      if (!allowedTokens.has(type)) throw invalid(refusedTokens[type] ?? `{{${type}…}} is not allowed`, where);
      if (type === 'text' || type === '!') continue;
      if (name === '.') {
        if (type === 'name' && inList) continue;
        throw invalid('{{.}} may only be used inside a section over a list variable', where);
      }
      const variable = variables.get(name);
      if (!variable) {
        throw invalid(
          /^[A-Za-z][A-Za-z0-9_]*$/.test(name)
            ? `uses {{${name}}}, which is not declared in variables`
            : `{{${name.slice(0, 80)}}} is not a variable name: use {{name}} with a declared variable`,
          where,
        );
      }
      if (type === '#' || type === '^') check(span[4] as TemplateSpans, inList || (type === '#' && variable.type === 'list'), depth + 1);
    }
  };
  check(tokens, false, 0);
  return tokens;
}
