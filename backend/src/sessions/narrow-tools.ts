import { everyIntegrationTool, providerOfTool, providerToolsPattern, toolPatternCovers } from '../tools/index.ts';

/*
 * Which tools a new session may call, fixed once when it is set up. A session is offered tools
 * (by its template, or the defaults of a plain session), and its agent's allow-list, when it has
 * one, narrows that offer. Integration tools are named by pattern (`gmail__*`, `*__*`) and found
 * at each step among the user's connected ones, so narrowing works on names and patterns alike.
 */

/**
 * A template run's offer: the tools its steps name, and every tool of each provider they use
 * (its steps name one tool of a provider; the run may need its siblings), each once.
 */
export function templateToolOffer(templateTools: readonly string[]): string[] {
  return [
    ...new Set([
      ...templateTools,
      ...templateTools.flatMap((tool) => {
        const provider = providerOfTool(tool);
        return provider ? [providerToolsPattern(provider)] : [];
      }),
    ]),
  ];
}

/** A plain session's offer: knowledge search when the knowledge base is on, the custom tools, every integration tool. */
export function plainToolOffer(options: { knowledgeBase: boolean; customTools: readonly string[] }): string[] {
  return [...(options.knowledgeBase ? ['knowledge_search'] : []), ...options.customTools, everyIntegrationTool];
}

/**
 * The offered tools an agent's allow-list keeps: the plain names it covers, and the integration
 * tools or patterns it lists within an offered pattern. It only ever narrows: nothing the offer
 * lacks gets in, however wide the allow-list's patterns.
 */
export function narrowTools(offered: readonly string[], allowList: readonly string[]): string[] {
  const plain = offered.filter((tool) => !tool.includes('*') && allowList.some((allowed) => toolPatternCovers(allowed, tool)));
  const integration = allowList.filter((allowed) => offered.some((tool) => tool.includes('*') && toolPatternCovers(tool, allowed)));
  return [...new Set([...plain, ...integration])];
}
