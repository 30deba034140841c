import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';
import { parseUntrustedJson } from './untrusted-input.ts';

/**
 * Parses JSON bodies under the rules of untrusted-input.ts (prototype-poisoning keys, storable
 * text, bounded depth), saying what is wrong: a body that is not JSON, one that smuggles
 * `__proto__`/`constructor`, one with text no database column can hold, or one nested too deep.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(new AppError('INVALID_JSON', 'The request body is empty; send a JSON object.'), undefined);
    try {
      done(null, parseUntrustedJson(text));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
