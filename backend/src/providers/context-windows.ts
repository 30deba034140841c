import { knownModels } from './known-models.ts';
import { offlineModelId, parseModelId } from './model-id.ts';

/** How much of a model's prompt a turn may fill, in the tokens our tokenizer counts. */
export interface ContextBudget {
  /** Tokens the model reads at most, prompt and answer together. */
  window: number;
  /** Tokens kept free for the answer. */
  outputReserve: number;
  /**
   * Our counts (cl100k_base) times this is what the model's own tokenizer may count: 1 for OpenAI's
   * models (their newer encoding counts fewer, never more, for the same text), more for the others.
   */
  margin: number;
}

export interface ContextWindowSettings {
  /** The administrator's windows, by model id or `<provider>:*` (MODEL_CONTEXT_WINDOWS). */
  configured: ReadonlyMap<string, number>;
  /** A model whose window nobody says (DEFAULT_CONTEXT_WINDOW). */
  defaultWindow: number;
  /** Tokens kept for the answer (MODEL_OUTPUT_RESERVE), at most a quarter of the window. */
  outputReserve: number;
}

/** What a model server says about its models: an endpoint's listed window, when it lists one. */
export interface ReportedWindows {
  reportedWindow(modelId: string): Promise<number | null>;
}

/** Other vendors' tokenizers split text finer than cl100k_base, by up to about this much. */
const otherTokenizerMargin = 1.2;
/** The offline responder reads any length; fitting it would only hide what a real model would read. */
const offlineWindow = 1_000_000;

/**
 * Each model's context window, from the first that says: the administrator's configuration, the
 * vendor's published window (known-models.ts), the endpoint's model list (vLLM's max_model_len,
 * others' context_length), else the default. Asked once per turn; endpoint lists are cached by
 * the catalogue, so this never waits on a model server more than once per cache period.
 */
export class ContextWindows {
  constructor(
    private readonly settings: ContextWindowSettings,
    private readonly reported: ReportedWindows,
  ) {}

  async budgetOf(modelId: string): Promise<ContextBudget> {
    const window = await this.windowOf(modelId);
    const parsed = parseModelId(modelId);
    return {
      window,
      outputReserve: Math.min(this.settings.outputReserve, Math.floor(window / 4)),
      margin: parsed?.provider === 'openai' || modelId === offlineModelId ? 1 : otherTokenizerMargin,
    };
  }

  private async windowOf(modelId: string): Promise<number> {
    const parsed = parseModelId(modelId);
    const configured = this.settings.configured.get(modelId) ?? (parsed && this.settings.configured.get(`${parsed.provider}:*`));
    if (configured) return configured;
    if (modelId === offlineModelId) return offlineWindow;
    if (parsed && (parsed.provider === 'openai' || parsed.provider === 'anthropic' || parsed.provider === 'google')) {
      const known = knownModels[parsed.provider][parsed.model];
      if (known) return known;
    } else if (parsed) {
      const reported = await this.reported.reportedWindow(modelId).catch(() => null);
      if (reported) return reported;
    }
    return this.settings.defaultWindow;
  }
}
