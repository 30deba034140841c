import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { dataExceptionOf, toDatabaseError } from '../database/index.ts';
import { AppError, type AppErrorCode } from '../errors.ts';

/** Fastify's own request errors, by code, in our vocabulary. */
const fastifyCodes: Record<string, AppErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
  FST_ERR_BAD_URL: 'VALIDATION_FAILED',
  FST_ERR_MAX_PARAM_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_ASYNC_CONSTRAINT: 'VALIDATION_FAILED',
  FST_REQ_FILE_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_PARTS_LIMIT: 'VALIDATION_FAILED',
  FST_FILES_LIMIT: 'VALIDATION_FAILED',
  FST_FIELDS_LIMIT: 'VALIDATION_FAILED',
  FST_PROTO_VIOLATION: 'FORBIDDEN_KEY',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'VALIDATION_FAILED',
};

/**
 * Turns anything thrown into an AppError. Only AppErrors and recognised request errors reach the
 * client with their own message; everything else becomes INTERNAL with no internals in the body.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const issues = error.validation.map((v) => ({
      path: `${error.validationContext ?? 'body'}${v.instancePath.replaceAll('/', '.')}`,
      message: v.message ?? 'is not valid',
    }));
    return new AppError('VALIDATION_FAILED', `The request is not valid: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, {
      details: {
        issues,
      },
    });
  }
  const mapped = toDatabaseError(error);
  if (mapped instanceof AppError) return mapped;
  const problem = dataExceptionOf(error);
  if (problem) return new AppError('INVALID_INPUT', `A value in the request cannot be used: ${problem}.`, { cause: error });
  const fastifyError = error as Partial<FastifyError>;
  const code = fastifyError.code && fastifyCodes[fastifyError.code];
  if (code) return new AppError(code, code === 'VALIDATION_FAILED' ? fastifyError.message : undefined);
  return new AppError('INTERNAL', { cause: error });
}

export function sendError(reply: FastifyReply, error: AppError): FastifyReply {
  reply.header('x-request-id', reply.request.id);
  const body: { error: { code: string; message: string; details?: unknown } } = { error: { code: error.code, message: error.message } };
  if (error.details !== undefined) body.error.details = error.details;
  return reply.code(error.status).type('application/json; charset=utf-8').send(body);
}

/** One place that maps errors to responses; errors are logged here once, never where thrown. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error, code: appError.code }, 'request failed');
    // A rejection the database made keeps its cause in the log: should one ever come from the
    // server's own value rather than the client's, the log says which.
    else request.log.info({ code: appError.code, ...(appError.code === 'INVALID_INPUT' ? { err: error } : {}) }, 'request rejected');
    return sendError(reply, appError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new AppError('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`)),
  );
}
