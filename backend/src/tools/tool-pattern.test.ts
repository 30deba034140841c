import { describe, expect, it } from 'vitest';
import {
  isIntegrationToolName,
  patternReachesProvider,
  providerIdPattern,
  providerOfTool,
  providerToolsPattern,
  toolPatternCovers,
} from './tool-pattern.ts';

describe('tool names', () => {
  it('tells an integration tool from a built-in one and finds its provider', () => {
    expect(isIntegrationToolName('gmail__send_email')).toBe(true);
    expect(isIntegrationToolName('google-calendar__list-events')).toBe(true);
    expect(isIntegrationToolName('knowledge_search')).toBe(false);
    expect(isIntegrationToolName('Gmail__send')).toBe(false);
    expect(isIntegrationToolName('gmail__')).toBe(false);
    expect(isIntegrationToolName('gmail__*')).toBe(false);
    expect(providerOfTool('google-calendar__list_events')).toBe('google-calendar');
    expect(providerOfTool('knowledge_search')).toBeUndefined();
    expect(providerToolsPattern('gmail')).toBe('gmail__*');
    expect(providerIdPattern.test('google-calendar')).toBe(true);
    expect(providerIdPattern.test('9lives')).toBe(false);
  });
});

describe('toolPatternCovers', () => {
  it('covers a name exactly, all of a provider, or every integration tool', () => {
    expect(toolPatternCovers('knowledge_search', 'knowledge_search')).toBe(true);
    expect(toolPatternCovers('gmail__send_email', 'gmail__send_email')).toBe(true);
    expect(toolPatternCovers('gmail__*', 'gmail__send_email')).toBe(true);
    expect(toolPatternCovers('*__*', 'cal__list_events')).toBe(true);
  });

  it('covers a narrower pattern, never a wider one', () => {
    expect(toolPatternCovers('*__*', 'gmail__*')).toBe(true);
    expect(toolPatternCovers('gmail__*', 'gmail__*')).toBe(true);
    expect(toolPatternCovers('gmail__*', '*__*')).toBe(false);
    expect(toolPatternCovers('gmail__send_email', 'gmail__*')).toBe(false);
  });

  it('never lets a wildcard reach a built-in tool or another provider', () => {
    expect(toolPatternCovers('*__*', 'knowledge_search')).toBe(false);
    expect(toolPatternCovers('gmail__*', 'gmail-x__send')).toBe(false);
    expect(toolPatternCovers('gmail__*', 'cal__list_events')).toBe(false);
    expect(toolPatternCovers('knowledge_*', 'knowledge_search')).toBe(false);
  });
});

describe('patternReachesProvider', () => {
  it('reaches a provider through *__*, its own wildcard or one of its tools', () => {
    expect(patternReachesProvider('*__*', 'gmail')).toBe(true);
    expect(patternReachesProvider('gmail__*', 'gmail')).toBe(true);
    expect(patternReachesProvider('gmail__send_email', 'gmail')).toBe(true);
  });

  it('does not reach it through a built-in tool or a provider whose id only starts the same', () => {
    expect(patternReachesProvider('knowledge_search', 'gmail')).toBe(false);
    expect(patternReachesProvider('gmail-x__*', 'gmail')).toBe(false);
    expect(patternReachesProvider('cal__*', 'gmail')).toBe(false);
  });
});
