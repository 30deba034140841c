import { toJsonText, type AgentsTable, type PostgresDatabase } from '../database/index.ts';
import { AppError } from '../errors.ts';
import type { ApprovalDecision } from '../tools/index.ts';
import type { Selectable } from 'kysely';
import { freeAgentSlug, slugFromName } from './agent-slug.ts';

type AgentRow = Selectable<AgentsTable>;

export interface AgentView {
  id: string;
  name: string;
  /** Unique per user: how a client names the agent as a model (the OpenAI-compatible endpoint). */
  slug: string;
  instructions: string;
  /** Null: the configured default model. */
  model: string | null;
  templateId: string | null;
  /** Null: every tool the session is offered. */
  tools: string[] | null;
  /** The agent's level of the approval policy: below the administrator's, above the user's. */
  approvalRules: AgentApprovalRule[];
  isDefault: boolean;
  createdAt: string;
  updatedAt: string;
}

/** One of an agent's approval rules: a tool name or `*` pattern, and what its calls get. */
export interface AgentApprovalRule {
  tool: string;
  decision: ApprovalDecision;
}

export interface AgentInput {
  name: string;
  /** On create, absent: derived from the name (made unique). On update, absent: unchanged. */
  slug?: string | undefined;
  instructions?: string | undefined;
  model?: string | null | undefined;
  templateId?: string | null | undefined;
  tools?: string[] | null | undefined;
  /**
   * On create, absent: none. On update, absent: unchanged, so a client that does not know the
   * field never drops a `deny` the agent's owner set.
   */
  approvalRules?: AgentApprovalRule[] | undefined;
}

export interface AgentServiceDeps {
  database: PostgresDatabase;
  /** Throws 400 UNKNOWN_MODEL for a model id no provider serves. */
  checkModel: (id: string) => void;
  /** Throws 404 TEMPLATE_NOT_FOUND unless the user may use the template. */
  checkTemplate: (userId: string, templateId: string) => Promise<void>;
}

function toView(row: AgentRow): AgentView {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    instructions: row.instructions,
    model: row.model,
    templateId: row.template_id,
    tools: row.tools,
    approvalRules: row.approval_rules.map((rule) => ({ tool: rule.tool, decision: rule.decision })),
    isDefault: row.is_default,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/**
 * A user's agents: a name, instructions, a model, an optional template, an optional tool
 * allow-list and their approval rules. Every user has a default agent, made on first use, which follows the configured
 * default model.
 */
export class AgentService {
  constructor(private readonly deps: AgentServiceDeps) {}

  async list(userId: string): Promise<AgentView[]> {
    await this.defaultAgent(userId);
    const rows = await this.deps.database.db
      .selectFrom('agents')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toView);
  }

  /** The user's agent by its slug, or undefined (the default agent, `assistant`, is made on first use). */
  async bySlug(userId: string, slug: string): Promise<AgentView | undefined> {
    const find = () =>
      this.deps.database.db.selectFrom('agents').selectAll().where('user_id', '=', userId).where('slug', '=', slug).executeTakeFirst();
    const row = await find();
    if (row) return toView(row);
    const created = await this.defaultAgent(userId);
    return created.slug === slug ? created : undefined;
  }

  async get(userId: string, id: string): Promise<AgentView> {
    const row = await this.deps.database.db
      .selectFrom('agents')
      .selectAll()
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) throw new AppError('AGENT_NOT_FOUND');
    return toView(row);
  }

  /** The user's default agent, made the first time it is asked for (once, however many ask at once). */
  async defaultAgent(userId: string): Promise<AgentView> {
    const { db } = this.deps.database;
    const existing = await db
      .selectFrom('agents')
      .selectAll()
      .where('user_id', '=', userId)
      .where('is_default', '=', true)
      .executeTakeFirst();
    if (existing) return toView(existing);
    const slug = await freeAgentSlug(this.deps.database, userId, 'assistant');
    await db
      .insertInto('agents')
      .values({ user_id: userId, name: 'Assistant', slug, is_default: true, model: null })
      .onConflict((oc) => oc.doNothing()) // another start made it (the default, or the same slug) meanwhile
      .execute();
    return toView(
      await db.selectFrom('agents').selectAll().where('user_id', '=', userId).where('is_default', '=', true).executeTakeFirstOrThrow(),
    );
  }

  async create(userId: string, input: AgentInput): Promise<AgentView> {
    await this.check(userId, input);
    const slug = input.slug ?? (await freeAgentSlug(this.deps.database, userId, slugFromName(input.name)));
    const row = await slugTaken(
      this.deps.database.db
        .insertInto('agents')
        .values({
          user_id: userId,
          name: input.name,
          slug,
          instructions: input.instructions ?? '',
          model: input.model ?? null,
          template_id: input.templateId ?? null,
          tools: input.tools ?? null,
          approval_rules: toJsonText(input.approvalRules ?? []),
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
      slug,
    );
    return toView(row);
  }

  async update(userId: string, id: string, input: AgentInput): Promise<AgentView> {
    await this.check(userId, input);
    const row = await slugTaken(
      this.deps.database.db
        .updateTable('agents')
        .set({
          name: input.name,
          ...(input.slug ? { slug: input.slug } : {}),
          instructions: input.instructions ?? '',
          model: input.model ?? null,
          template_id: input.templateId ?? null,
          tools: input.tools ?? null,
          ...(input.approvalRules ? { approval_rules: toJsonText(input.approvalRules) } : {}),
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .returningAll()
        .executeTakeFirst(),
      input.slug,
    );
    if (!row) throw new AppError('AGENT_NOT_FOUND');
    return toView(row);
  }

  /** Deletes an agent; its sessions keep running with what they started with. The default agent stays. */
  async delete(userId: string, id: string): Promise<void> {
    const agent = await this.get(userId, id);
    if (agent.isDefault) throw new AppError('CONFLICT', 'The default agent cannot be deleted; change it instead.');
    await this.deps.database.db.deleteFrom('agents').where('id', '=', id).where('user_id', '=', userId).execute();
  }

  private async check(userId: string, input: AgentInput): Promise<void> {
    if (input.model) this.deps.checkModel(input.model);
    if (input.templateId) await this.deps.checkTemplate(userId, input.templateId);
  }
}

/** A slug another agent of the user has already: 409, with the slug named. */
async function slugTaken<T>(write: Promise<T>, slug: string | undefined): Promise<T> {
  if (slug === undefined) return write;
  try {
    return await write;
  } catch (error) {
    if ((error as { code?: string }).code === '23505' && (error as { constraint?: string }).constraint === 'agents_user_slug_key')
      throw new AppError('AGENT_SLUG_TAKEN', `You already have an agent with the slug "${slug}".`, { details: { slug } });
    throw error;
  }
}
