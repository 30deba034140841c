import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { AppError } from '../errors.ts';

/**
 * Parses JSON bodies with the same prototype-poisoning protection as Fastify's own parser, but
 * says what is wrong: a body that is not JSON, or one that smuggles `__proto__`/`constructor`.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(new AppError('INVALID_JSON', 'The request body is empty; send a JSON object.'), undefined);
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch (error) {
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
