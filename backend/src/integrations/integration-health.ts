import { sql } from 'kysely';
import type { PostgresDatabase } from '../database/index.ts';
import { isAppError } from '../errors.ts';
import type { IntegrationService } from './integration-service.ts';
import type { McpClients } from './mcp-clients.ts';

export interface HealthMonitorDeps {
  database: PostgresDatabase;
  integrations: IntegrationService;
  clients: McpClients;
  /** How often each connection is checked. */
  intervalMs: number;
  onError(error: unknown, context: string): void;
}

/**
 * Checks every connection periodically: its credential is still good (an OAuth token is renewed
 * if it is about to expire) and its MCP server answers a ping. The result sets the connection's
 * status (connected, degraded when the server does not answer, error when the authorization is
 * gone), and each change is an event. Each instance claims the connections due, so with several
 * instances each connection is still checked once per interval.
 */
export class HealthMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;

  constructor(private readonly deps: HealthMonitorDeps) {}

  start(): void {
    const tick = Math.max(1000, Math.min(this.deps.intervalMs, 60_000));
    this.timer = setInterval(() => {
      this.running ??= this.checkDue()
        .then(() => undefined)
        .catch((error: unknown) => this.deps.onError(error, 'integration health check failed'))
        .finally(() => (this.running = undefined));
    }, tick);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Claims the connections due for a check and checks them; returns how many were checked. */
  async checkDue(limit = 20): Promise<number> {
    const due = await sql<{ id: string }>`
      update integration_connections set health_checked_at = now()
      where id in (
        select id from integration_connections
        where status <> 'error' and (health_checked_at is null or health_checked_at < now() - make_interval(secs => ${this.deps.intervalMs / 1000}))
        order by health_checked_at nulls first limit ${limit}
        for update skip locked)
      returning id`.execute(this.deps.database.db);
    for (const { id } of due.rows) {
      if (this.stopping) break; // the rest are checked at their next turn
      await this.check(id);
    }
    return due.rows.length;
  }

  /** Checks one connection now and records its status. */
  async check(connectionId: string): Promise<void> {
    try {
      const target = await this.deps.integrations.target(connectionId);
      await this.deps.integrations.bearer(target);
      await this.deps.clients.ping(target);
      await this.deps.integrations.setStatus(connectionId, 'connected');
    } catch (error) {
      if (!isAppError(error)) return this.deps.onError(error, `could not check ${connectionId}`);
      const failure = { code: error.code, message: error.message };
      if (error.code === 'CONNECTION_BROKEN') await this.deps.integrations.setStatus(connectionId, 'error', failure);
      else if (error.code === 'INTEGRATION_UNAVAILABLE' || error.code === 'OAUTH_PROVIDER_ERROR')
        await this.deps.integrations.setStatus(connectionId, 'degraded', failure);
    }
  }
}
