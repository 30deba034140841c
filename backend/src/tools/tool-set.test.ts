import { describe, expect, it } from 'vitest';
import type { ToolDefinition } from './tool-definition.ts';
import { toolSet } from './tool-set.ts';

const tool = (name: string, userId = ''): ToolDefinition => ({
  name,
  description: `${name} for ${userId}`,
  inputSchema: { type: 'object' },
  idempotent: true,
  parse: (input) => input,
  execute: async () => ({}),
});

describe('toolSet', () => {
  const patterns: Array<readonly string[]> = [];
  const toolsFor = toolSet({
    integrations: {
      forSession: async (_userId, names) => {
        patterns.push(names);
        return names.includes('*__*') ? [tool('mail__send'), tool('cal__list')] : [];
      },
    },
    knowledgeSearch: { name: 'knowledge_search', create: (userId) => tool('knowledge_search', userId) },
    completeSession: { name: 'complete_session', create: () => tool('complete_session') },
    custom: new Map([['weather', (userId: string) => tool('weather', userId)]]),
  });

  it('offers what the allow-list names, integration tools first, each bound to the user', async () => {
    const tools = await toolsFor('u1', ['weather', 'complete_session', 'knowledge_search', '*__*']);
    expect([...tools.keys()]).toEqual(['mail__send', 'cal__list', 'knowledge_search', 'complete_session', 'weather']);
    expect(tools.get('knowledge_search')!.description).toBe('knowledge_search for u1');
    expect(tools.get('weather')!.description).toBe('weather for u1');
    expect(patterns.at(-1)).toEqual(['weather', 'complete_session', 'knowledge_search', '*__*']);
  });

  it('offers nothing the allow-list does not name', async () => {
    expect([...(await toolsFor('u1', ['unknown_tool'])).keys()]).toEqual([]);
  });
});
