/**
 * The grammar of tool names and tool patterns, in one place for templates, sessions, integrations
 * and the console (which imports this file: keep it pure, with no Node or server import).
 *
 * A built-in or custom tool has a plain name (`knowledge_search`). An integration's tool is
 * namespaced by its provider: `gmail__send_email`. Patterns name integration tools:
 * `provider__tool` exactly, `provider__*` for all of a provider's, `*__*` for every one.
 */

/** `gmail`, `google-calendar`: the provider ids of the integrations catalogue. */
export const providerIdPattern = /^[a-z][a-z0-9-]{0,39}$/;

/** An integration's tool, namespaced by its provider: `gmail__send_email`. */
const integrationToolPattern = /^([a-z][a-z0-9-]{0,39})__[A-Za-z0-9_-]{1,64}$/;

/** The pattern that covers every integration tool. */
export const everyIntegrationTool = '*__*';

/** Whether a name is an integration tool's: `provider__tool`. */
export function isIntegrationToolName(name: string): boolean {
  return integrationToolPattern.test(name);
}

/** The provider a tool name belongs to, or undefined for a built-in tool. */
export function providerOfTool(tool: string): string | undefined {
  return integrationToolPattern.exec(tool)?.[1];
}

/** The pattern that covers all of a provider's tools: `gmail__*`. */
export function providerToolsPattern(provider: string): string {
  return `${provider}__*`;
}

/** Whether a tool pattern covers a tool name or a narrower pattern. */
export function toolPatternCovers(pattern: string, name: string): boolean {
  if (pattern === name) return true;
  if (!name.includes('__')) return false;
  if (pattern === everyIntegrationTool) return true;
  return pattern.endsWith('__*') && name.startsWith(pattern.slice(0, -1));
}

/** Whether a pattern reaches any tool of a provider: `*__*`, `provider__*` or one `provider__tool`. */
export function patternReachesProvider(pattern: string, provider: string): boolean {
  return pattern === everyIntegrationTool || pattern.startsWith(`${provider}__`);
}
