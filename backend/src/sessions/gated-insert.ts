import { sql, type InsertObject, type QueryCreator } from 'kysely';
import type { DatabaseSchema } from '../database/index.ts';
import type { ChangeExpressions } from '../events/index.ts';

type Table = keyof DatabaseSchema & string;

/**
 * An insert of one row as a part of a larger statement (see ChangeExpressions) that writes only if
 * the part named `from` returned a row (`insert ... select <values> from <from>`): how a write of
 * a step is fenced by its lease's renewal in the same statement. Without `from` it always writes.
 * The values are parameters, typed by the columns they go to, or SQL expressions.
 */
export function insertFrom<T extends Table>(
  db: QueryCreator<DatabaseSchema>,
  table: T,
  row: InsertObject<DatabaseSchema, T>,
  options: { from?: string | undefined } = {},
) {
  const values = row as Record<string, unknown>;
  const columns = Object.keys(values).filter((column) => values[column] !== undefined);
  const gate = options.from ? sql` from ${sql.table(options.from)}` : sql``;
  return db
    .insertInto(table)
    .columns(columns as never)
    .expression(sql`select ${sql.join(columns.map((column) => values[column]))}${gate}`);
}

/**
 * Several rows as insertFrom writes one, each in a part of its own (`<name>_<i>`, a parameter's
 * type comes from its column only in a single-row select), and `name` their rows as written.
 * At least one row.
 */
export function insertRowsFrom<T extends Table>(
  db: QueryCreator<DatabaseSchema>,
  table: T,
  rows: ReadonlyArray<InsertObject<DatabaseSchema, T>>,
  options: { name: string; from: string },
): ChangeExpressions {
  const { name, from } = options;
  if (rows.length === 0) throw new Error(`No rows to insert into ${table}.`);
  const parts = rows.map((row, i) => [`${name}_${i}`, insertFrom(db, table, row, { from }).returningAll()] as const);
  const union = sql.join(
    parts.map(([part]) => sql`select * from ${sql.table(part)}`),
    sql` union all `,
  );
  return [...parts, [name, union]];
}
