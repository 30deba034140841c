/*
 * The models of the built-in providers this installation knows by name, with their context window
 * in tokens (as the vendors publish them). A model not listed still works by its id: this table
 * only feeds the model list (GET /v1/models) the console picks from.
 */

export const knownModels: Readonly<Record<'openai' | 'anthropic' | 'google', Readonly<Record<string, number>>>> = {
  openai: {
    'gpt-5': 400_000,
    'gpt-5-mini': 400_000,
    'gpt-5-nano': 400_000,
    'gpt-4.1': 1_047_576,
    'gpt-4.1-mini': 1_047_576,
    'gpt-4.1-nano': 1_047_576,
    'gpt-4o': 128_000,
    'gpt-4o-mini': 128_000,
    o3: 200_000,
    'o3-mini': 200_000,
    'o4-mini': 200_000,
  },
  anthropic: {
    'claude-opus-4-5': 200_000,
    'claude-opus-4-1': 200_000,
    'claude-sonnet-4-5': 200_000,
    'claude-sonnet-4-0': 200_000,
    'claude-haiku-4-5': 200_000,
    'claude-3-5-haiku-latest': 200_000,
  },
  google: {
    'gemini-2.5-pro': 1_048_576,
    'gemini-2.5-flash': 1_048_576,
    'gemini-2.5-flash-lite': 1_048_576,
    'gemini-2.0-flash': 1_048_576,
  },
};
