import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PostgresDatabase } from '../database/index.ts';
import type { PromptCacheStats } from '../templates/index.ts';

/**
 * Prometheus metrics: request latency by route, the database pool, the prompt cache, and the
 * process's defaults (event-loop delay percentiles among them). One registry per app, so tests
 * can run several.
 */
export function installMetrics(
  app: FastifyInstance,
  database: PostgresDatabase,
  promptCache: { cacheStats(): PromptCacheStats },
): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const latency = new Histogram({
    name: 'agentry_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'agentry_db_pool_connections',
    help: 'Database pool connections by state',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const stats = database.poolStats();
      this.set({ state: 'total' }, stats.total);
      this.set({ state: 'idle' }, stats.idle);
      this.set({ state: 'waiting' }, stats.waiting);
      this.set({ state: 'max' }, stats.max);
    },
  });
  // The cache counts for itself; these report its running totals when scraped.
  const cacheTotal = (name: string, help: string, read: (stats: PromptCacheStats) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(promptCache.cacheStats()));
      },
    });
  cacheTotal('agentry_prompt_cache_hits_total', 'Prompts served from the prompt cache (per instance)', (s) => s.hits);
  cacheTotal('agentry_prompt_cache_misses_total', 'Prompts rendered because the cache did not hold them (per instance)', (s) => s.misses);
  new Gauge({
    name: 'agentry_prompt_cache_entries',
    help: 'Rendered prompts held in the prompt cache (per instance)',
    registers: [registry],
    collect() {
      this.set(promptCache.cacheStats().entries);
    },
  });
  app.addHook('onResponse', async (request, reply) => {
    latency.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  return registry;
}
