import type { ToolDefinition } from './tool-definition.ts';

/** A tool bound to the calling user when a session's set is assembled. */
export type UserToolFactory = (userId: string) => ToolDefinition;

/** A built-in tool: offered when a session's allow-list names it. */
export interface NamedToolSource {
  name: string;
  create: UserToolFactory;
}

/** Where a session's tools come from. */
export interface ToolSources {
  /** The connected integrations' tools that a session's patterns cover. */
  integrations: { forSession(userId: string, patterns: readonly string[]): Promise<ToolDefinition[]> };
  knowledgeSearch: NamedToolSource;
  completeSession: NamedToolSource;
  /** The administrator's custom tools (CUSTOM_TOOLS), by name. */
  custom: ReadonlyMap<string, UserToolFactory>;
}

/** A session's tools by name, for one user and one allow-list. */
export type ToolsFor = (userId: string, names: readonly string[]) => Promise<Map<string, ToolDefinition>>;

/**
 * Assembles a session's tools from its allow-list: the integration tools its patterns cover, then
 * each built-in and custom tool it names, every one bound to the user. A name no source has is
 * simply absent (the agent loop answers a call of it with TOOL_NOT_ALLOWED).
 */
export function toolSet(sources: ToolSources): ToolsFor {
  return async (userId, names) => {
    const tools = new Map<string, ToolDefinition>();
    for (const definition of await sources.integrations.forSession(userId, names)) tools.set(definition.name, definition);
    for (const builtIn of [sources.knowledgeSearch, sources.completeSession]) {
      if (names.includes(builtIn.name)) tools.set(builtIn.name, builtIn.create(userId));
    }
    for (const name of names) {
      const custom = sources.custom.get(name);
      if (custom) tools.set(name, custom(userId));
    }
    return tools;
  };
}
