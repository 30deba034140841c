export { ChatCompletions, type ChatCompletionsDeps } from './chat-completions.ts';
export { CompletionTurn, type ChatCompletion, type ChatCompletionChunk } from './completion-turn.ts';
export { completionRequestSchema, type CompletionRequest } from './completion-request.ts';
export { type ModelEntry } from './model-directory.ts';
