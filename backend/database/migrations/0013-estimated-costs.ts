import type { Kysely } from 'kysely';

/**
 * Marks costs counted at DEFAULT_MODEL_PRICE because their model has no price: on each model call
 * and answer, and on a session once any of its calls was. Usage views show such costs as estimated.
 * Added with a default, so older instances keep writing rows that read as priced.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const table of ['model_calls', 'messages', 'agent_sessions']) {
    await db.schema
      .alterTable(table)
      .addColumn('cost_estimated', 'boolean', (c) => c.notNull().defaultTo(false))
      .execute();
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['model_calls', 'messages', 'agent_sessions']) {
    await db.schema.alterTable(table).dropColumn('cost_estimated').execute();
  }
}
