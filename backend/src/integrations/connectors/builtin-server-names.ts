/** Agentry's own MCP servers, by the name a catalogue entry gives as `mcp.server`. */
export const builtinServerNames = ['gmail', 'google-calendar', 'slack'] as const;

export type BuiltinServerName = (typeof builtinServerNames)[number];
