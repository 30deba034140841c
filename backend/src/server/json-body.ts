import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { AppError } from '../errors.ts';

/**
 * True for text PostgreSQL can store: no NUL character, no lone surrogate. (`isWellFormed` is in
 * Node 20 but not yet in the ES2023 library types.)
 */
export function isStorableText(text: string): boolean {
  return !text.includes('\0') && (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** Refuses any key or string value that could not be stored, wherever it sits in the body. */
function storableOnly(key: string, value: unknown): unknown {
  if (!isStorableText(key) || (typeof value === 'string' && !isStorableText(value))) throw new AppError('INVALID_TEXT');
  return value;
}

/**
 * Parses JSON bodies with the same prototype-poisoning protection as Fastify's own parser, but
 * says what is wrong: a body that is not JSON, one that smuggles `__proto__`/`constructor`, or
 * one with text no database column can hold.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(new AppError('INVALID_JSON', 'The request body is empty; send a JSON object.'), undefined);
    try {
      done(null, secureJson.parse(text, storableOnly, { protoAction: 'error', constructorAction: 'error' }));
    } catch (error) {
      if (error instanceof AppError) return done(error, undefined);
      const message = (error as Error).message;
      done(
        /forbidden prototype property/.test(message)
          ? new AppError('FORBIDDEN_KEY')
          : new AppError('INVALID_JSON', `The request body is not valid JSON: ${message}`),
        undefined,
      );
    }
  });
}
