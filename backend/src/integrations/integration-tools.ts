import type { PostgresDatabase } from '../database/index.ts';
import type { EventBus } from '../events/index.ts';
import type { RetryPolicy } from '../providers/index.ts';
import { toolPatternCovers, type ToolDefinition } from '../tools/index.ts';
import { ConnectionCache } from './connection-cache.ts';
import type { IntegrationService } from './integration-service.ts';
import type { McpClients, McpTarget, McpUnavailable } from './mcp-clients.ts';
import { McpToolCaller } from './mcp-tool-caller.ts';
import { ToolDiscovery, type DiscoveredIntegration } from './tool-discovery.ts';
import type { ToolRegistry, ToolsChange } from './tool-registry.ts';
import { ToolUsage, type ToolStats, type UsageBucket, type UsageBucketSize } from './tool-usage.ts';

export interface IntegrationToolsDeps {
  database: PostgresDatabase;
  bus: EventBus;
  integrations: IntegrationService;
  registry: ToolRegistry;
  clients: McpClients;
  /** Retries of a call whose server cannot be reached or timed out (`attempts` 1: no retry). */
  retry: RetryPolicy;
  onError(error: unknown, context: string): void;
}

/** Integration tools offered to the model in one step, at most (model APIs take about 128 tools). */
const maxToolsPerStep = 100;

/**
 * Integration tools for the agent loop, discovery and statistics. A tool of a connected
 * integration reaches the loop through the same interface as the built-ins; its call goes to the
 * connection's MCP server with the user's credential (injected here, never seen by the model),
 * is retried with backoff when the server cannot be reached, and is recorded with its redacted
 * arguments, outcome and duration (`integration.tool_used`, or `integration.error` when the
 * server failed). Calls that succeed again bring a degraded connection back to `connected`.
 *
 * The one API over the ConnectionCache (what is read at every step), ToolDiscovery (listing
 * tools), McpToolCaller (the call) and ToolUsage (the usage record and its statistics).
 */
export class IntegrationTools {
  private readonly cache: ConnectionCache;
  private readonly usageRecord: ToolUsage;
  private readonly discovery: ToolDiscovery;
  private readonly caller: McpToolCaller;

  constructor(private readonly deps: IntegrationToolsDeps) {
    this.cache = new ConnectionCache(deps);
    this.usageRecord = new ToolUsage(deps);
    this.discovery = new ToolDiscovery({ ...deps, cache: this.cache, usage: this.usageRecord });
    this.caller = new McpToolCaller({ ...deps, cache: this.cache, usage: this.usageRecord });
  }

  /** The bearer token an MCP server gets for a connection (see IntegrationService.bearer), kept briefly. */
  async bearer(target: McpTarget, rejected?: string): Promise<string | undefined> {
    return this.cache.bearer(target, rejected);
  }

  /** Closes every MCP client (and stops the servers started over stdio). */
  async close(): Promise<void> {
    await this.deps.clients.close();
  }

  /** Drops a connection's client, so its next use connects afresh (with new credentials). */
  async forget(connectionId: string): Promise<void> {
    await this.deps.clients.drop(connectionId);
  }

  /**
   * Lists the connection's tools at its server, stores them, and tells the user what changed.
   * One connection's refreshes run one after another, so an older listing never lands last.
   */
  async refresh(connectionId: string): Promise<ToolsChange> {
    return this.discovery.refresh(connectionId);
  }

  /** A connection made again (its credentials or URL may have changed): a new client, and its tools listed. */
  reconnected(connectionId: string): void {
    void this.forget(connectionId).then(() => this.refreshInBackground(connectionId));
  }

  /**
   * The server's notification stream broke a limit (an event too large, a flood) and was closed
   * with its client: logged, and recorded like any failure of the connection (degraded).
   */
  streamRefused(target: McpTarget, error: McpUnavailable): void {
    this.deps.onError(error, `closed the notification stream of ${target.connectionId}`);
    void this.usageRecord.recordFailure(target, error);
  }

  /** `refresh`, with a failure recorded on the connection rather than thrown. */
  refreshInBackground(connectionId: string): void {
    this.discovery.refreshInBackground(connectionId);
  }

  /** The user's connections and their tools from the registry; `forceRefresh` lists them live first. */
  async discover(userId: string, forceRefresh: boolean): Promise<DiscoveredIntegration[]> {
    return this.discovery.discover(userId, forceRefresh);
  }

  /**
   * The integration tools a session may use now, by its tool patterns: an exact `provider__tool`,
   * `provider__*` for every tool of a provider, or `*__*` for every connected tool.
   */
  async forSession(userId: string, patterns: readonly string[]): Promise<ToolDefinition[]> {
    if (!patterns.some((p) => p.includes('__'))) return [];
    const { tools } = await this.cache.snapshot(userId);
    return tools
      .filter((tool) => patterns.some((pattern) => toolPatternCovers(pattern, tool.name)))
      .slice(0, maxToolsPerStep)
      .map((tool) => this.caller.definition(userId, tool));
  }

  /** Per tool: calls, errors, p50/p95 duration and last use, within the range. */
  async stats(userId: string, range: { from?: Date | undefined; to?: Date | undefined }): Promise<ToolStats[]> {
    return this.usageRecord.stats(userId, range);
  }

  /** Calls, errors and p95 duration per hour or day within `[from, to)`, every bucket present (see ToolUsage.usage). */
  async usage(userId: string, range: { from: Date; to: Date; bucket: UsageBucketSize }): Promise<UsageBucket[]> {
    return this.usageRecord.usage(userId, range);
  }
}
