import { isAppError } from '../errors.ts';
import type { ConnectionCache } from './connection-cache.ts';
import type { ConnectionView } from './connection-store.ts';
import type { IntegrationService } from './integration-service.ts';
import type { McpClients } from './mcp-clients.ts';
import type { ToolRegistry, ToolsChange } from './tool-registry.ts';
import type { ToolUsage } from './tool-usage.ts';

/** A connection and the tools it offers, as discovery shows them. */
export interface DiscoveredIntegration {
  id: string;
  provider: string;
  status: ConnectionView['status'];
  tools: Array<{ name: string; description: string; parameters: Record<string, unknown>; idempotent: boolean; flags: string[] }>;
}

export interface ToolDiscoveryDeps {
  cache: ConnectionCache;
  clients: McpClients;
  registry: ToolRegistry;
  integrations: Pick<IntegrationService, 'setStatus'>;
  usage: ToolUsage;
  onError(error: unknown, context: string): void;
}

/** Failures of a background listing that are the connection's, recorded on it rather than logged. */
const connectionFailures: readonly string[] = ['INTEGRATION_UNAVAILABLE', 'INTEGRATION_DISCONNECTED', 'CONNECTION_BROKEN'];

/**
 * Which tools each connection offers: listed at its server into the registry (a listing that
 * works brings a degraded connection back; one that fails is recorded on the connection), and
 * read back from the registry for discovery.
 */
export class ToolDiscovery {
  private readonly refreshing = new Map<string, Promise<ToolsChange>>();

  constructor(private readonly deps: ToolDiscoveryDeps) {}

  /**
   * Lists the connection's tools at its server, stores them, and tells the user what changed.
   * One connection's refreshes run one after another, so an older listing never lands last.
   */
  async refresh(connectionId: string): Promise<ToolsChange> {
    const previous = this.refreshing.get(connectionId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.listAndStore(connectionId));
    this.refreshing.set(connectionId, next);
    void next.finally(() => this.refreshing.get(connectionId) === next && this.refreshing.delete(connectionId)).catch(() => undefined);
    return next;
  }

  /** `refresh`, with a failure recorded on the connection rather than thrown. */
  refreshInBackground(connectionId: string): void {
    void this.refresh(connectionId).catch((error: unknown) => {
      if (!isAppError(error) || !connectionFailures.includes(error.code))
        this.deps.onError(error, `could not list the tools of ${connectionId}`);
    });
  }

  /** The user's connections and their tools from the registry; `forceRefresh` lists them live first. */
  async discover(userId: string, forceRefresh: boolean): Promise<DiscoveredIntegration[]> {
    if (forceRefresh) {
      const { connections } = await this.deps.cache.snapshot(userId);
      await Promise.all(connections.filter((c) => c.status !== 'error').map((c) => this.refresh(c.id).catch(() => undefined)));
    }
    const { connections: current, tools } = await this.deps.cache.snapshot(userId);
    return current.map((connection) => ({
      id: connection.id,
      provider: connection.provider,
      status: connection.status,
      tools: tools
        .filter((t) => t.connectionId === connection.id)
        .map((t) => ({ name: t.name, description: t.description, parameters: t.inputSchema, idempotent: t.idempotent, flags: t.flags })),
    }));
  }

  private async listAndStore(connectionId: string): Promise<ToolsChange> {
    const target = await this.deps.cache.target(connectionId);
    try {
      const tools = await this.deps.clients.listTools(target);
      const change = await this.deps.registry.replace(
        { ...target, trustHints: !target.entry.userSuppliedUrl, standsIn: target.entry.standsIn },
        tools,
      );
      if (target.status === 'degraded') await this.deps.integrations.setStatus(connectionId, 'connected');
      return change;
    } catch (error) {
      await this.deps.usage.recordFailure(target, error);
      throw error;
    }
  }
}
