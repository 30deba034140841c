import type { PostgresDatabase } from '../database/index.ts';
import type { AgentsTable } from '../database/index.ts';
import { AppError } from '../errors.ts';
import type { Selectable } from 'kysely';

type AgentRow = Selectable<AgentsTable>;

export interface AgentView {
  id: string;
  name: string;
  instructions: string;
  /** Null: the configured default model. */
  model: string | null;
  templateId: string | null;
  /** Null: every tool the session is offered. */
  tools: string[] | null;
  isDefault: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface AgentInput {
  name: string;
  instructions?: string | undefined;
  model?: string | null | undefined;
  templateId?: string | null | undefined;
  tools?: string[] | null | undefined;
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
    instructions: row.instructions,
    model: row.model,
    templateId: row.template_id,
    tools: row.tools,
    isDefault: row.is_default,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/**
 * A user's agents: a name, instructions, a model, an optional template and an optional tool
 * allow-list. Every user has a default agent, made on first use, which follows the configured
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
    await db
      .insertInto('agents')
      .values({ user_id: userId, name: 'Assistant', is_default: true, model: null })
      .onConflict((oc) => oc.column('user_id').where('is_default', '=', true).doNothing())
      .execute();
    return toView(
      await db.selectFrom('agents').selectAll().where('user_id', '=', userId).where('is_default', '=', true).executeTakeFirstOrThrow(),
    );
  }

  async create(userId: string, input: AgentInput): Promise<AgentView> {
    await this.check(userId, input);
    const row = await this.deps.database.db
      .insertInto('agents')
      .values({
        user_id: userId,
        name: input.name,
        instructions: input.instructions ?? '',
        model: input.model ?? null,
        template_id: input.templateId ?? null,
        tools: input.tools ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toView(row);
  }

  async update(userId: string, id: string, input: AgentInput): Promise<AgentView> {
    await this.check(userId, input);
    const row = await this.deps.database.db
      .updateTable('agents')
      .set({
        name: input.name,
        instructions: input.instructions ?? '',
        model: input.model ?? null,
        template_id: input.templateId ?? null,
        tools: input.tools ?? null,
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .returningAll()
      .executeTakeFirst();
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
