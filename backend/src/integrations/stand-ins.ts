import type { Catalogue } from './catalogue.ts';

/*
 * The one rule for stand-ins (the sandbox stands in for gmail, google-calendar and slack): an
 * entry that says `standsIn: [p, …]`
 *  - offers its tools under the names the stood-in provider's own server would get
 *    (`gmail__list_unread`), counted as that provider's (`standInProvider`, used by the registry),
 *    so tool names and patterns (`gmail__*`) in templates resolve to them unchanged;
 *  - meets a template's requirement of `p` (`providersMet`, used for every "is it connected" check);
 *  - gives way to a usable connection to `p` itself: the real provider's tools win, and the
 *    stand-in's for `p` are left out (ToolRegistry.forUser, the one query every tool list reads).
 * Nothing here or there knows a template or a provider by name.
 */

/** The stood-in provider whose tool this is (`gmail` for `gmail__list_unread`), or undefined for a tool of the entry's own. */
export function standInProvider(standsIn: readonly string[], toolName: string): string | undefined {
  return standsIn.find((provider) => toolName.startsWith(`${provider}__`) && toolName.length > provider.length + 2);
}

/** The providers the user's usable connections provide: their own, and every provider their entries stand in for. */
export function providersMet(connected: readonly string[], catalogue: Catalogue): string[] {
  const standIns = connected.flatMap((provider) => catalogue.providers.find((entry) => entry.id === provider)?.standsIn ?? []);
  return [...new Set([...connected, ...standIns])];
}
