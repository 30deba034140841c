import { recordAudit } from '../accounts/index.ts';
import { sql } from 'kysely';
import type { PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';
import type { ApprovalRule } from '../tools/index.ts';

/** A user's saved rule, as the console's settings list shows it. */
export interface ApprovalRuleView {
  id: string;
  tool: string;
  decision: 'allow' | 'ask' | 'deny';
  /** Null: sessions without an agent. */
  agent: { id: string; name: string } | null;
  createdAt: string;
}

/**
 * The agent's and the user's levels of the approval policy, as stored: the agent's rules are part
 * of its definition; the user's are the "always allow this tool for this agent" they saved when
 * approving. Read together, in one query, once per turn execution.
 */
export class ApprovalRules {
  constructor(private readonly database: PostgresDatabase) {}

  /** The agent's and the user's rules for a session of `userId` with `agentId` (null: none). */
  async forSession(session: { user_id: string; agent_id: string | null }): Promise<{ agent: ApprovalRule[]; user: ApprovalRule[] }> {
    const { user_id: userId, agent_id: agentId } = session;
    const ofAgent = agentId ? sql`r.agent_id = ${agentId}` : sql`r.agent_id is null`;
    const row = await this.database.db
      .selectNoFrom([
        agentId
          ? sql<ApprovalRule[] | null>`(select approval_rules from agents where id = ${agentId})`.as('agent')
          : sql<null>`null`.as('agent'),
        sql<ApprovalRule[]>`coalesce((select json_agg(json_build_object('tool', r.tool, 'decision', r.decision))
          from tool_approval_rules r where r.user_id = ${userId} and ${ofAgent}), '[]'::json)`.as('user'),
      ])
      .executeTakeFirstOrThrow();
    return { agent: row.agent ?? [], user: row.user };
  }

  /** The user's rules, newest first. */
  async list(userId: string): Promise<ApprovalRuleView[]> {
    const rows = await this.database.db
      .selectFrom('tool_approval_rules as r')
      .leftJoin('agents as a', 'a.id', 'r.agent_id')
      .select(['r.id', 'r.tool', 'r.decision', 'r.agent_id', 'a.name as agent_name', 'r.created_at'])
      .where('r.user_id', '=', userId)
      .orderBy('r.created_at', 'desc')
      .orderBy('r.id')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      tool: row.tool,
      decision: row.decision,
      agent: row.agent_id ? { id: row.agent_id, name: row.agent_name ?? '' } : null,
      createdAt: row.created_at.toISOString(),
    }));
  }

  /** Removes one of the user's rules (404 APPROVAL_RULE_NOT_FOUND for another's), audited. */
  async remove(userId: string, id: string, ip?: string | null): Promise<void> {
    await this.database.transaction(async (tx) => {
      const row = await tx
        .deleteFrom('tool_approval_rules')
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .returning(['tool', 'agent_id'])
        .executeTakeFirst();
      if (!row) throw new AppError('APPROVAL_RULE_NOT_FOUND');
      await recordAudit(tx, {
        action: 'approval_rule.removed',
        actorUserId: userId,
        targetType: 'approval_rule',
        targetId: id,
        ip: ip ?? null,
        details: { tool: row.tool, agentId: row.agent_id },
      });
    });
  }
}
