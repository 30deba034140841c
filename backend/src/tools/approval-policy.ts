/**
 * Whether a tool call runs at once (`allow`), waits for a person (`ask`) or is refused (`deny`),
 * decided from rules at three levels and, where no rule speaks, from what the tool says of itself.
 * Pure: the console imports the pattern grammar, the loop the decision.
 */

export type ApprovalDecision = 'allow' | 'ask' | 'deny';

/** The levels a rule comes from, the administrator's first: a lower level is more specific. */
export const approvalLevels = ['administrator', 'agent', 'user'] as const;
export type ApprovalLevel = (typeof approvalLevels)[number];

/** One rule: a tool name or a pattern with `*` (`gmail__send_*`, `slack__*`, `*__delete_*`). */
export interface ApprovalRule {
  tool: string;
  decision: ApprovalDecision;
  /** Administrator's `ask` only: no agent or user rule turns it into `allow`. */
  locked?: boolean | undefined;
}

/** The rules that apply to one session: the administrator's, its agent's and its user's. */
export type ApprovalRules = { readonly [level in ApprovalLevel]: readonly ApprovalRule[] };

export const noApprovalRules: ApprovalRules = { administrator: [], agent: [], user: [] };

/** What a tool says of itself: the default when no rule matches (none: Agentry's own tools, `allow`). */
export interface ApprovalDefault {
  approval?: 'allow' | 'ask' | undefined;
}

export const approvalPatternMaxLength = 200;
/** Letters, digits, `_`, `-` and `*`: the characters of tool names, plus the wildcard. */
const approvalPatternShape = /^[A-Za-z0-9_*-]{1,200}$/;

/** Whether `pattern` is a well-formed tool name or pattern. */
export function isApprovalPattern(pattern: string): boolean {
  return approvalPatternShape.test(pattern);
}

/**
 * Whether a `*` pattern matches the whole name. Each `*` takes the shortest run that lets the next
 * literal part match (leftmost), which is exact for patterns whose only wildcard is `*`, and takes
 * time linear in the name per literal part: no backtracking on hostile names.
 */
export function approvalPatternMatches(pattern: string, name: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === name;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (name.length < first.length + last.length || !name.startsWith(first) || !name.endsWith(last)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (const part of parts.slice(1, -1)) {
    if (part === '') continue;
    const found = name.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** How specific a pattern is: an exact name beats any pattern, then the longer literal text. */
function specificity(pattern: string): number {
  return pattern.includes('*') ? pattern.replaceAll('*', '').length : Number.MAX_SAFE_INTEGER;
}

/** The level's rule for the tool: the most specific that matches; of equals, the strictest. */
export function matchingRule(rules: readonly ApprovalRule[], tool: string): ApprovalRule | undefined {
  const strictness = { allow: 0, ask: 1, deny: 2 } as const;
  let best: ApprovalRule | undefined;
  for (const rule of rules) {
    if (!approvalPatternMatches(rule.tool, tool)) continue;
    if (
      !best ||
      specificity(rule.tool) > specificity(best.tool) ||
      (specificity(rule.tool) === specificity(best.tool) && strictness[rule.decision] > strictness[best.decision])
    )
      best = rule;
  }
  return best;
}

/**
 * The decision for one call of `tool`. Starts from the tool's own default, then each level that
 * has a matching rule overrides the one above (the user's the most specific), except that a
 * `deny` is final (never loosened below) and an administrator's locked `ask` can only be
 * tightened to `deny`.
 */
export function decideApproval(rules: ApprovalRules, tool: string, own: ApprovalDefault | undefined): ApprovalDecision {
  let decision: ApprovalDecision = own?.approval ?? 'allow';
  let floor: ApprovalDecision | undefined;
  for (const level of approvalLevels) {
    const rule = matchingRule(rules[level], tool);
    if (!rule) continue;
    if (rule.decision === 'deny') return 'deny';
    decision = floor === 'ask' && rule.decision === 'allow' ? 'ask' : rule.decision;
    if (level === 'administrator' && rule.decision === 'ask' && rule.locked) floor = 'ask';
  }
  return decision;
}
