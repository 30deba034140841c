import { describe, expect, it } from 'vitest';
import { approvalPatternMatches, decideApproval, type ApprovalRule, type ApprovalRules } from './approval-policy.ts';

const rules = (partial: Partial<{ [K in keyof ApprovalRules]: ApprovalRule[] }>): ApprovalRules => ({
  administrator: [],
  agent: [],
  user: [],
  ...partial,
});
const allow = (tool: string): ApprovalRule => ({ tool, decision: 'allow' });
const ask = (tool: string, locked = false): ApprovalRule => ({ tool, decision: 'ask', locked });
const deny = (tool: string): ApprovalRule => ({ tool, decision: 'deny' });

describe('approval policy', () => {
  // What the tool says of itself: read-only integration tools `allow`, others `ask` (set by the
  // registry from MCP annotations), Agentry's own tools nothing (`allow`), custom tools declare it.
  const readOnly = { approval: 'allow' } as const;
  const writes = { approval: 'ask' } as const;
  const builtIn = {};

  it.each([
    { case: 'read-only integration tool, no rule', tool: 'gmail__list_messages', own: readOnly, rules: rules({}), expected: 'allow' },
    {
      case: 'destructive or unannotated integration tool, no rule',
      tool: 'gmail__send_email',
      own: writes,
      rules: rules({}),
      expected: 'ask',
    },
    { case: "Agentry's own tool, no rule", tool: 'knowledge_search', own: builtIn, rules: rules({}), expected: 'allow' },
    { case: 'a tool the session does not have', tool: 'made_up', own: undefined, rules: rules({}), expected: 'allow' },
    {
      case: 'administrator pattern asks',
      tool: 'gmail__send_email',
      own: readOnly,
      rules: rules({ administrator: [ask('gmail__send_*')] }),
      expected: 'ask',
    },
    {
      case: 'administrator denies every delete',
      tool: 'github__delete_repo',
      own: writes,
      rules: rules({ administrator: [deny('*__delete_*')] }),
      expected: 'deny',
    },
    {
      case: 'agent allows what the default asks',
      tool: 'slack__post_message',
      own: writes,
      rules: rules({ agent: [allow('slack__*')] }),
      expected: 'allow',
    },
    {
      case: 'user allows what the agent asks',
      tool: 'slack__post_message',
      own: writes,
      rules: rules({ agent: [ask('slack__*')], user: [allow('slack__post_message')] }),
      expected: 'allow',
    },
    {
      case: 'administrator deny never loosened by agent',
      tool: 'slack__post_message',
      own: writes,
      rules: rules({ administrator: [deny('slack__*')], agent: [allow('slack__post_message')] }),
      expected: 'deny',
    },
    {
      case: 'administrator deny never loosened by user',
      tool: 'slack__post_message',
      own: writes,
      rules: rules({ administrator: [deny('slack__*')], user: [allow('slack__post_message')] }),
      expected: 'deny',
    },
    {
      case: 'agent deny never loosened by user',
      tool: 'gmail__send_email',
      own: writes,
      rules: rules({ agent: [deny('gmail__send_email')], user: [allow('gmail__send_email')] }),
      expected: 'deny',
    },
    {
      case: 'locked administrator ask not loosened by the user',
      tool: 'gmail__send_email',
      own: writes,
      rules: rules({ administrator: [ask('gmail__send_*', true)], user: [allow('gmail__send_email')] }),
      expected: 'ask',
    },
    {
      case: 'locked administrator ask not loosened by the agent',
      tool: 'gmail__send_email',
      own: readOnly,
      rules: rules({ administrator: [ask('gmail__*', true)], agent: [allow('gmail__*')] }),
      expected: 'ask',
    },
    {
      case: 'locked administrator ask tightened to deny',
      tool: 'gmail__send_email',
      own: writes,
      rules: rules({ administrator: [ask('gmail__*', true)], user: [deny('gmail__send_email')] }),
      expected: 'deny',
    },
    {
      case: 'unlocked administrator ask loosened by the user',
      tool: 'gmail__send_email',
      own: writes,
      rules: rules({ administrator: [ask('gmail__*')], user: [allow('gmail__send_email')] }),
      expected: 'allow',
    },
    {
      case: 'most specific rule of a level wins',
      tool: 'gmail__send_email',
      own: writes,
      rules: rules({ agent: [deny('gmail__*'), allow('gmail__send_email')] }),
      expected: 'allow',
    },
    {
      case: 'longer pattern beats shorter',
      tool: 'gmail__send_email',
      own: readOnly,
      rules: rules({ administrator: [allow('gmail__*'), ask('gmail__send_*')] }),
      expected: 'ask',
    },
    {
      case: 'equal patterns: the stricter',
      tool: 'slack__post_message',
      own: readOnly,
      rules: rules({ agent: [allow('slack__*'), ask('slack__*')] }),
      expected: 'ask',
    },
    {
      case: 'a rule that does not match changes nothing',
      tool: 'calendar__list_events',
      own: readOnly,
      rules: rules({ administrator: [ask('gmail__*')] }),
      expected: 'allow',
    },
  ])('$case: $expected', ({ tool, own, rules: levels, expected }) => {
    expect(decideApproval(levels, tool, own)).toBe(expected);
  });

  it.each([
    ['gmail__send_*', 'gmail__send_email', true],
    ['gmail__send_*', 'gmail__list_messages', false],
    ['*__delete_*', 'github__delete_branch', true],
    ['*__delete_*', 'github__undelete', false],
    ['slack__*', 'slack__post_message', true],
    ['*', 'anything', true],
    ['a*a', 'a', false],
    ['a*b*c', 'abbbc', true],
    ['exact', 'exact', true],
  ])('%s matches %s: %s', (pattern, name, matches) => {
    expect(approvalPatternMatches(pattern, name)).toBe(matches);
  });

  it('matches a long hostile name in linear time', () => {
    const name = `${'a'.repeat(100_000)}b`;
    const started = performance.now();
    expect(approvalPatternMatches('*a*a*a*a*a*c', name)).toBe(false);
    expect(performance.now() - started).toBeLessThan(200);
  });
});
