import { describe, expect, it } from 'vitest';
import { narrowTools, plainToolOffer, templateToolOffer } from './narrow-tools.ts';

describe('the tools a session is offered', () => {
  it('a template run: the tools its steps name, and all tools of each provider they use, each once', () => {
    expect(templateToolOffer(['knowledge_search', 'gmail__send_email', 'gmail__list_threads', 'calendar__list_events'])).toEqual([
      'knowledge_search',
      'gmail__send_email',
      'gmail__list_threads',
      'calendar__list_events',
      'gmail__*',
      'calendar__*',
    ]);
    expect(templateToolOffer(['knowledge_search'])).toEqual(['knowledge_search']);
    expect(templateToolOffer([])).toEqual([]);
  });

  it('a plain session: knowledge search when the knowledge base is on, the custom tools, every integration tool', () => {
    expect(plainToolOffer({ knowledgeBase: true, customTools: ['weather'] })).toEqual(['knowledge_search', 'weather', '*__*']);
    expect(plainToolOffer({ knowledgeBase: false, customTools: [] })).toEqual(['*__*']);
  });
});

describe('narrowTools: an agent allow-list narrows the offer', () => {
  const plain = plainToolOffer({ knowledgeBase: true, customTools: ['weather', 'stock_quote'] });

  it('keeps the built-in and custom tools it names, and the integration tools and patterns it names', () => {
    expect(narrowTools(plain, ['weather', 'gmail__*', 'calendar__list_events'])).toEqual(['weather', 'gmail__*', 'calendar__list_events']);
  });

  it('drops what the offer lacks: a tool not installed, knowledge search with the knowledge base off', () => {
    expect(narrowTools(plain, ['shell', 'weather'])).toEqual(['weather']);
    expect(narrowTools(plainToolOffer({ knowledgeBase: false, customTools: [] }), ['knowledge_search'])).toEqual([]);
  });

  it('never widens a template run: a wide allow-list keeps only what its steps name', () => {
    const offer = templateToolOffer(['knowledge_search', 'gmail__send_email']);
    const allowed = narrowTools(offer, ['*__*', 'calendar__*', 'weather']);
    expect(allowed).toEqual(['gmail__send_email']);
  });

  it('within a template run, keeps a sibling tool of a provider the template uses when the allow-list names it', () => {
    const offer = templateToolOffer(['gmail__send_email']);
    expect(narrowTools(offer, ['gmail__list_threads'])).toEqual(['gmail__list_threads']);
    expect(narrowTools(offer, ['gmail__*'])).toEqual(['gmail__send_email', 'gmail__*']);
    expect(narrowTools(offer, ['calendar__list_events'])).toEqual([]);
  });

  it('an empty allow-list keeps nothing, and a pattern never reaches a built-in tool', () => {
    expect(narrowTools(plain, [])).toEqual([]);
    expect(narrowTools(plain, ['*__*'])).toEqual(['*__*']);
  });
});
