import { AppError } from '../errors.ts';
import { maxTurnChars, textOf, type CompletionRequest } from './completion-request.ts';

type Message = CompletionRequest['messages'][number];

/**
 * The user message a turn runs, from the messages a client sent. Clients resend the whole history
 * with every call, so:
 *
 * - continuing a session (it already holds the history), only the trailing user message(s) are
 *   new: they become the turn's message, joined by blank lines;
 * - starting one, the earlier messages (the client's system prompt, earlier turns) are handed to
 *   the agent as a delimited transcript before them, so the agent answers with that context. The
 *   agent's own instructions stay its system prompt: the client's is context, not a replacement.
 *
 * The last message must be the user's, with text; the result is capped like a REST message.
 */
export function turnContent(messages: readonly Message[], options: { continuing: boolean }): string {
  let first = messages.length;
  while (first > 0 && messages[first - 1]!.role === 'user') first--;
  const trailing = messages.slice(first).map((m) => textOf(m.content).trim());
  if (trailing.length === 0) {
    throw new AppError('VALIDATION_FAILED', 'The last message must be a user message: it is what the agent answers.', {
      details: { issues: [{ path: `messages[${messages.length - 1}].role`, message: 'must be "user"' }] },
    });
  }
  const asked = trailing.filter(Boolean).join('\n\n');
  if (!asked) {
    throw new AppError('VALIDATION_FAILED', 'The last user message has no text.', {
      details: { issues: [{ path: `messages[${messages.length - 1}].content`, message: 'must not be empty' }] },
    });
  }
  const earlier = options.continuing ? [] : messages.slice(0, first).filter((m) => textOf(m.content).trim());
  const content = earlier.length
    ? [
        'The conversation so far, as the client sent it (context for the last message):',
        '<client_history>',
        ...earlier.map((m) => `[${m.role === 'developer' ? 'system' : m.role}] ${textOf(m.content).trim()}`),
        '</client_history>',
        '',
        asked,
      ].join('\n')
    : asked;
  if (content.length > maxTurnChars) {
    throw new AppError('PAYLOAD_TOO_LARGE', `The message for this turn is over ${maxTurnChars.toLocaleString('en')} characters.`);
  }
  return content;
}
