/** Agentry's own MCP servers, by the name a catalogue entry gives as `mcp.server`. */
export const builtinServerNames = ['gmail', 'google-calendar', 'slack', 'sandbox'] as const;

export type BuiltinServerName = (typeof builtinServerNames)[number];

/** Built-in servers that call no provider and so take no credential: their entries have `auth: none`. */
export const keylessServerNames: readonly BuiltinServerName[] = ['sandbox'];
