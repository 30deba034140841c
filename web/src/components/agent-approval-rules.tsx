import type { Agent } from '../api-shapes.ts';

export type AgentApprovalRule = Agent['approvalRules'][number];

const decisions: Array<{ value: AgentApprovalRule['decision']; label: string }> = [
  { value: 'allow', label: 'Allow: runs at once' },
  { value: 'ask', label: 'Ask: waits for your approval' },
  { value: 'deny', label: 'Deny: never offered' },
];

/**
 * The agent's approval rules in its form: a tool name or pattern and allow, ask or deny for each.
 * The server checks the patterns, and an administrator's deny or locked ask wins over any rule
 * here, so the editor stays a plain list with nothing to reconcile.
 */
export function AgentApprovalRules({
  id,
  rules,
  onChange,
}: {
  id: string;
  rules: AgentApprovalRule[];
  onChange: (rules: AgentApprovalRule[]) => void;
}) {
  const change = (index: number, rule: Partial<AgentApprovalRule>) => onChange(rules.map((r, i) => (i === index ? { ...r, ...rule } : r)));
  return (
    <fieldset class="field" aria-describedby={`${id}-approvals-hint`}>
      <legend>Approval rules</legend>
      {rules.length > 0 ? (
        <ul class="list" aria-label="Approval rules">
          {rules.map((rule, index) => (
            <li key={index} class="row">
              <input
                aria-label={`Rule ${index + 1} tool`}
                spellcheck={false}
                required
                maxLength={200}
                pattern="[A-Za-z0-9_*\-]+"
                placeholder="gmail__send_*"
                value={rule.tool}
                onInput={(e) => change(index, { tool: e.currentTarget.value.trim() })}
              />
              <select
                aria-label={`Rule ${index + 1} decision`}
                value={rule.decision}
                onChange={(e) => change(index, { decision: e.currentTarget.value as AgentApprovalRule['decision'] })}
              >
                {decisions.map((d) => (
                  <option key={d.value} value={d.value}>
                    {d.label}
                  </option>
                ))}
              </select>
              <button type="button" aria-label={`Remove rule ${index + 1}`} onClick={() => onChange(rules.filter((_, i) => i !== index))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      <div class="row">
        <button type="button" disabled={rules.length >= 100} onClick={() => onChange([...rules, { tool: '', decision: 'ask' }])}>
          Add rule
        </button>
      </div>
      <p class="hint" id={`${id}-approvals-hint`}>
        Whether this agent's tool calls run at once, wait for you or are never offered: a tool name or a pattern such as{' '}
        <code>slack__*</code> or <code>*__delete_*</code> (the most specific wins). Tools without a rule follow their defaults; an
        administrator's deny or locked ask still applies.
      </p>
    </fieldset>
  );
}
