import type { TemplateDefinition } from '../templates/index.ts';

/*
 * A chat message is a user's text: every pattern here runs in linear time, on at most
 * `maxScannedChars` of it. An address or an owner/name starts where its run of characters starts
 * (a one-character lookbehind), never at each position inside the run: from each, the run would be
 * scanned to its end again looking for the `@` or `/`.
 */
const emailPattern = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const isoDatePattern = /\b(\d{4}-\d{2}-\d{2})\b/;
const numberPattern = /(?:^|[\s#])(\d+(?:\.\d+)?)(?=$|[\s,.!?])/g;
/** Leading dots and dashes are skipped, as `\b` did: `../owner/name` names `owner/name`. */
const repositoryPattern = /(?<![A-Za-z0-9_.-])[.-]*\b([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)\b/;
/** What is read of a message, at most: as long as a chat message may be. */
export const maxScannedChars = 10_000;

/**
 * The template variables a chat message states plainly, and nothing more: an enum value the
 * message names, the one number or date it contains, email addresses for a list, an owner/name
 * for a repository, and the whole message for a template whose only required text is the request
 * itself (a question, a topic). Anything it cannot read with confidence is left for the user.
 * Only the first `maxScannedChars` characters are read.
 */
export function extractVariables(definition: TemplateDefinition, message: string, today: string): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  const scanned = message.slice(0, maxScannedChars);
  const lower = scanned.toLowerCase();
  const numbers = [...scanned.matchAll(numberPattern)].map((m) => Number(m[1]));
  const emails = scanned.match(emailPattern) ?? [];
  const numberVariables = definition.variables.filter((v) => v.type === 'number');
  const requiredText = definition.variables.filter((v) => v.type === 'string' && v.required);
  for (const variable of definition.variables) {
    switch (variable.type) {
      case 'enum': {
        const named = (variable.values ?? []).filter((value) => lower.includes(value.toLowerCase()));
        if (named.length === 1) values[variable.name] = named[0];
        break;
      }
      case 'number':
        if (numberVariables.length === 1 && numbers.length === 1) values[variable.name] = numbers[0];
        break;
      case 'date': {
        const date = isoDatePattern.exec(scanned)?.[1] ?? (/\btoday\b/.test(lower) ? today : undefined);
        if (date) values[variable.name] = date;
        break;
      }
      case 'list':
        if (emails.length > 0) values[variable.name] = emails;
        break;
      case 'string': {
        const repository = /repo/i.test(variable.name) ? repositoryPattern.exec(scanned)?.[1] : undefined;
        if (repository) values[variable.name] = repository;
        else if (variable.required && requiredText.length === 1) values[variable.name] = message;
        break;
      }
      case 'boolean':
        break;
    }
  }
  return values;
}
