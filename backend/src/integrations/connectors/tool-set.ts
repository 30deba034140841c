import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

/** How a connector's tools are put on a server that may hold more than them (the sandbox holds three sets). */
export interface ToolSetOptions {
  /** Put before each tool's name, e.g. `gmail__`: the sandbox's server offers them under the stood-in provider's names. */
  prefix?: string | undefined;
  /**
   * Whether the tools reach outside Agentry (`openWorldHint`). False for data kept in Agentry's
   * own database: then every tool says so, whatever it would say against the provider.
   */
  openWorld?: boolean | undefined;
}

/**
 * `server.registerTool`, with the set's prefix on each name and `openWorldHint` forced to false
 * when the set does not reach outside. The connector files register through it, so a tool set
 * reads the same whether it is a server of its own or one part of a larger one.
 */
export function toolRegistrar(server: McpServer, options: ToolSetOptions = {}): McpServer['registerTool'] {
  const register = server.registerTool.bind(server) as (name: string, config: { annotations?: object }, callback: unknown) => unknown;
  return ((name: string, config: { annotations?: object }, callback: unknown) =>
    register(
      `${options.prefix ?? ''}${name}`,
      options.openWorld === false ? { ...config, annotations: { ...config.annotations, openWorldHint: false } } : config,
      callback,
    )) as McpServer['registerTool'];
}
