import type { LedgerEntry, SessionRow, TurnStore } from '../sessions/index.ts';
import { decideApproval, type ApprovalDecision, type ApprovalRule, type ToolDefinition } from '../tools/index.ts';

/** The administrator's level of the policy and how long a call waits (APPROVAL_TIMEOUT; 0: for ever). */
export interface ApprovalSettings {
  administrator: readonly ApprovalRule[];
  timeoutMs: number;
}

/** One session's approval policy, its rules read once per turn execution. */
export class SessionApprovalPolicy {
  constructor(
    private readonly rules: { administrator: readonly ApprovalRule[]; agent: readonly ApprovalRule[]; user: readonly ApprovalRule[] },
  ) {}

  /** allow, ask or deny for a call of `tool` (see decideApproval); a tool the session lacks is answered by the loop. */
  decide(tool: string, definition: ToolDefinition | undefined): ApprovalDecision {
    return decideApproval(this.rules, tool, definition);
  }

  /** The tools offered to the model: every one but those denied, which never reach its list. */
  offered(tools: Map<string, ToolDefinition>): Map<string, ToolDefinition> {
    for (const [name, definition] of tools) if (this.decide(name, definition) === 'deny') tools.delete(name);
    return tools;
  }
}

/**
 * Where the loop meets the approval policy: the session's policy (read once per execution), and
 * the request for the calls of a step that policy says to ask about, which then wait durably in
 * the ledger (sessions/tool-approvals.ts). Calls allowed pay for nothing but an in-memory match.
 */
export class ApprovalGate {
  constructor(
    private readonly turns: TurnStore,
    private readonly settings: ApprovalSettings,
  ) {}

  async policyFor(session: Pick<SessionRow, 'user_id' | 'agent_id'>): Promise<SessionApprovalPolicy> {
    const { agent, user } = await this.turns.approvalRules.forSession(session);
    return new SessionApprovalPolicy({ administrator: this.settings.administrator, agent, user });
  }

  /** The calls among `entries` that policy says to ask about and were not asked about yet. */
  toAsk(entries: readonly LedgerEntry[], policy: SessionApprovalPolicy, tools: ReadonlyMap<string, ToolDefinition>): LedgerEntry[] {
    return entries.filter((e) => e.status === 'pending' && e.approval === null && policy.decide(e.tool, tools.get(e.tool)) === 'ask');
  }

  get timeoutMs(): number {
    return this.settings.timeoutMs;
  }
}
