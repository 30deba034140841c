import { LRUCache } from 'lru-cache';
import type { ConnectionTarget } from './connection-credentials.ts';
import type { ConnectionView } from './connection-store.ts';
import type { IntegrationService } from './integration-service.ts';
import type { McpTarget } from './mcp-clients.ts';
import type { RegisteredTool, ToolRegistry } from './tool-registry.ts';

/** A user's connections and their registered tools, read together. */
export interface ConnectionSnapshot {
  connections: ConnectionView[];
  tools: RegisteredTool[];
}

export interface ConnectionCacheDeps {
  integrations: Pick<IntegrationService, 'connections' | 'target' | 'bearer'>;
  registry: ToolRegistry;
}

/**
 * Per instance, a user's connections and tools, each connection's target and its bearer token:
 * read at every agent step and tool call, changed rarely. Every change of a user's connections
 * or tools drops them (at commit here, and from the change's event on other instances); a token
 * is kept at most 30 s (it had more than a minute left when read) and dropped when a server
 * refuses it. A read that fails is not kept, so the next one tries again.
 */
export class ConnectionCache {
  private readonly snapshots = new LRUCache<string, Promise<ConnectionSnapshot>>({ max: 10_000 });
  private readonly targets = new LRUCache<string, Promise<ConnectionTarget>>({ max: 10_000, ttl: 30_000 });
  private readonly tokens = new LRUCache<string, { token: string | undefined }>({ max: 10_000, ttl: 30_000 });

  constructor(private readonly deps: ConnectionCacheDeps) {
    deps.registry.onChange(({ userId, connectionId }) => {
      this.snapshots.delete(userId);
      if (connectionId) {
        this.targets.delete(connectionId);
        this.tokens.delete(connectionId);
      }
    });
  }

  /** The user's connections and their tools. */
  snapshot(userId: string): Promise<ConnectionSnapshot> {
    return shared(this.snapshots, userId, async () => {
      const [connections, tools] = await Promise.all([this.deps.integrations.connections(userId), this.deps.registry.forUser(userId)]);
      return { connections, tools };
    });
  }

  /** What an MCP client needs to reach the connection's server (see IntegrationService.target). */
  target(connectionId: string): Promise<ConnectionTarget> {
    return shared(this.targets, connectionId, () => this.deps.integrations.target(connectionId));
  }

  /** The bearer token an MCP server gets for a connection (see IntegrationService.bearer), kept briefly. */
  async bearer(target: McpTarget, rejected?: string): Promise<string | undefined> {
    const cached = this.tokens.get(target.connectionId);
    if (cached && (rejected === undefined || cached.token !== rejected)) return cached.token;
    const token = await this.deps.integrations.bearer(target, rejected);
    this.tokens.set(target.connectionId, { token });
    return token;
  }
}

/** The cached read of `key`, or `load`'s, shared by concurrent callers and dropped if it fails. */
function shared<T>(cache: LRUCache<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let pending = cache.get(key);
  if (!pending) {
    pending = load();
    cache.set(key, pending);
    pending.catch(() => cache.delete(key));
  }
  return pending;
}
