import fs from 'node:fs';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { modelIdPattern, parseModelId } from './model-id.ts';

/** USD per million tokens. `cachedInput` is what a prompt-cache hit costs instead of `input`. */
export interface ModelPrice {
  input: number;
  output: number;
  cachedInput?: number | undefined;
}

/** The usage fields a cost needs; the AI SDK's `LanguageModelUsage` has this shape. */
export interface TokenUsage {
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
  inputTokenDetails?: { cacheReadTokens?: number | undefined } | undefined;
}

/** What a call cost, and whether it was counted at the default price because its model has none. */
export interface ModelCost {
  costUsd: number;
  estimated: boolean;
}

const usdPerMillion = z.number().min(0).max(1_000_000);
const priceSchema = z.strictObject({ input: usdPerMillion, output: usdPerMillion, cachedInput: usdPerMillion.optional() });
/** `provider:*` prices every model of a provider or an endpoint. */
const wholeProvider = /^[a-z][a-z0-9-]{0,31}:\*$/;
const priceFileSchema = z
  .strictObject({
    taken: z.union([z.string(), z.date()]).optional(),
    prices: z.record(z.string(), priceSchema).default({}),
  })
  .superRefine((file, ctx) => {
    for (const key of Object.keys(file.prices)) {
      if (!modelIdPattern.test(key) && !wholeProvider.test(key))
        ctx.addIssue({ code: 'custom', path: ['prices', key], message: 'is not provider:model or provider:*' });
    }
  });

/** A dated snapshot (`gpt-4o-2024-08-06`) costs what its model costs. */
const snapshotSuffix = /-\d{4}-\d{2}-\d{2}$/;

/**
 * Every price this installation knows: the shipped table with the administrator's file merged over
 * it, and the default price that counts a model neither prices. An unpriced model is never free:
 * its calls count toward the spend limit at the default, marked estimated.
 */
export class ModelPrices {
  constructor(
    private readonly prices: ReadonlyMap<string, ModelPrice>,
    readonly defaultPrice: ModelPrice,
    /** When the shipped prices were taken. */
    readonly taken: string | undefined,
  ) {}

  /** The price the table gives a `provider:model` id (local models cost nothing), or undefined. */
  priceOf(modelId: string): ModelPrice | undefined {
    const parsed = parseModelId(modelId);
    if (!parsed) return undefined;
    const exact = this.prices.get(modelId) ?? this.prices.get(modelId.replace(snapshotSuffix, ''));
    if (exact) return exact;
    if (parsed.provider === 'local') return { input: 0, output: 0 };
    return this.prices.get(`${parsed.provider}:*`);
  }

  /** The ids the table prices one by one (not `provider:*`), for listing known models. */
  pricedModels(): string[] {
    return [...this.prices.keys()].filter((key) => !key.endsWith(':*'));
  }

  /**
   * What a call cost in USD. Cached input tokens are charged at the cached price when there is
   * one. A model with no price is charged at the default price and said to be estimated.
   */
  costOf(modelId: string, usage: TokenUsage): ModelCost {
    const price = this.priceOf(modelId);
    const used = price ?? this.defaultPrice;
    const input = usage.inputTokens ?? 0;
    const cached = Math.min(input, usage.inputTokenDetails?.cacheReadTokens ?? 0);
    const cachedPrice = used.cachedInput ?? used.input;
    const dollars = ((input - cached) * used.input + cached * cachedPrice + (usage.outputTokens ?? 0) * used.output) / 1_000_000;
    return { costUsd: Math.round(dollars * 1e9) / 1e9, estimated: price === undefined };
  }
}

/**
 * Reads the shipped price file and the administrator's (`MODEL_PRICES`), whose entries replace
 * the shipped ones model by model. A file that is not valid stops the start with `CONFIG_INVALID`
 * naming the file, the line and what is wrong, so a typo never silently prices a model at the default.
 */
export function loadModelPrices(options: { shipped: string; custom?: string | undefined; defaultPrice: ModelPrice }): ModelPrices {
  const shipped = readPriceFile(options.shipped, 'the shipped price table');
  const custom = options.custom ? readPriceFile(options.custom, 'MODEL_PRICES') : undefined;
  const merged = new Map<string, ModelPrice>([...Object.entries(shipped.prices), ...Object.entries(custom?.prices ?? {})]);
  return new ModelPrices(merged, options.defaultPrice, shipped.taken);
}

function readPriceFile(file: string, setting: string): { prices: Record<string, ModelPrice>; taken: string | undefined } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new AppError('CONFIG_INVALID', `${setting}: cannot read ${file}: ${(error as Error).message}`);
  }
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines });
  const lineOf = (offset: number | undefined) => (offset === undefined ? undefined : lines.linePos(offset).line);
  const syntax = document.errors[0];
  if (syntax) throw invalid(setting, file, lineOf(syntax.pos[0]), syntax.message.split('\n')[0] ?? 'not valid YAML');
  const parsed = priceFileSchema.safeParse(document.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const line = lineOf(nodeOffset(document, issue.path));
    throw invalid(setting, file, line, `${issue.path.join('.') || 'the file'}: ${issue.message}`);
  }
  const taken = parsed.data.taken instanceof Date ? parsed.data.taken.toISOString().slice(0, 10) : parsed.data.taken;
  return { prices: parsed.data.prices, taken };
}

/** Where in the file the value at `path` starts, walking up to the nearest node that exists. */
function nodeOffset(document: Document, path: ReadonlyArray<PropertyKey>): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = document.getIn(path.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return node.range[0];
  }
  return undefined;
}

function invalid(setting: string, file: string, line: number | undefined, what: string): AppError {
  const problem = `${setting}: ${file}${line ? ` line ${line}` : ''}: ${what}`;
  return new AppError('CONFIG_INVALID', problem, { details: { problems: [problem] } });
}
