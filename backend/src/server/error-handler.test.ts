import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.ts';
import { installErrorHandling, toAppError } from './error-handler.ts';

describe('the error handler', () => {
  const app = () => {
    const instance = Fastify({ logger: false });
    instance.setValidatorCompiler(validatorCompiler);
    instance.setSerializerCompiler(serializerCompiler);
    installErrorHandling(instance);
    return instance;
  };

  it('answers anything unexpected with 500 INTERNAL and no internals in the body', async () => {
    const server = app();
    server.get('/boom', async () => {
      throw new Error('connection to 10.0.0.5 failed: password "hunter2" rejected');
    });
    const response = await server.inject({ method: 'GET', url: '/boom' });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: { code: 'INTERNAL', message: expect.stringMatching(/request id/) } });
    expect(response.body).not.toMatch(/hunter2|10\.0\.0\.5|at .*\.ts/);
  });

  it('passes an AppError through with its status, code, message and details', async () => {
    const server = app();
    server.get('/taken', async () => {
      throw new AppError('EMAIL_TAKEN', { details: { email: 'a@example.test' } });
    });
    const response = await server.inject({ method: 'GET', url: '/taken' });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toEqual({
      error: { code: 'EMAIL_TAKEN', message: 'A user with this email already exists.', details: { email: 'a@example.test' } },
    });
  });

  it('maps the database driver’s capacity errors to 503s a client can retry', () => {
    expect(toAppError(new Error('timeout exceeded when trying to connect')).code).toBe('DATABASE_BUSY');
    expect(toAppError(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })).code).toBe(
      'DATABASE_BUSY',
    );
    expect(toAppError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).code).toBe('DATABASE_UNAVAILABLE');
    expect(toAppError(Object.assign(new Error('duplicate key'), { code: '23505' })).code).toBe('INTERNAL');
  });
});
