import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config, RateLimitGroup } from '../config.ts';
import { AppError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Which per-user limit a route counts against; `default` when unset. A function decides per
     * request, from its parsed body (one route that does several things: the MCP endpoint).
     */
    rateLimitGroup?: RateLimitGroup | ((request: FastifyRequest) => RateLimitGroup);
  }
}

/**
 * Per-user request limits per route group, counted per instance in memory. Runs after the auth
 * hook, so a request counts against its user (an unauthenticated one against its address).
 */
export async function installRateLimits(app: FastifyInstance, limits: Config['rateLimits']): Promise<void> {
  const groupOf = (request: FastifyRequest): RateLimitGroup => {
    const group = request.routeOptions.config.rateLimitGroup ?? 'default';
    return typeof group === 'function' ? group(request) : group;
  };
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    timeWindow: 60_000,
    max: (request) => limits[groupOf(request)],
    keyGenerator: (request) => `${groupOf(request)}:${request.principal?.user.id ?? `ip:${request.ip}`}`,
    errorResponseBuilder: (_request, context) =>
      new AppError('RATE_LIMITED', `Too many requests: at most ${context.max} a minute. Retry in ${context.after}.`, {
        details: {
          retryAfter: context.after,
        },
      }),
  });
}
