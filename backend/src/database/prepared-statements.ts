import type pg from 'pg';

/**
 * Statement texts named so far, process-wide: a text gets its number the first time it is sent,
 * up to `cap` texts (the code has a few hundred shapes; past the cap a new text goes unnamed, as
 * every statement did before). Texts longer than `maxLength` (bulk inserts whose text grows with
 * their rows) stay unnamed: each would be used once and kept by every connection.
 */
export class StatementNames {
  private readonly numbers = new Map<string, number>();
  /** Bumped when the database forgot every connection's statements: each connection parses them again. */
  generation = 0;

  constructor(private readonly limits: { cap: number; maxLength: number } = { cap: 400, maxLength: 16_384 }) {}

  numberOf(text: string): number | undefined {
    const known = this.numbers.get(text);
    if (known !== undefined || this.numbers.size >= this.limits.cap || text.length > this.limits.maxLength) return known;
    const number = this.numbers.size + 1;
    this.numbers.set(text, number);
    return number;
  }

  /** The database dropped every prepared statement (the embedded database's session was reset for a dump). */
  forgetAll(): void {
    this.generation += 1;
  }
}

/** How pg keeps track of the statements a connection has parsed: by name. */
interface ParsedStatements {
  connection: { parsedStatements: Record<string, string> };
}

let connections = 0;

/**
 * Makes `client` send each statement with parameters as a named prepared statement: PostgreSQL
 * then parses and analyses a text once per connection, and may keep its plan, instead of doing it
 * again on every execution. A turn's step repeats the same dozen statements; on a server on the
 * same machine their parsing and planning was about a fifth of a step's time.
 *
 * Names carry the connection's own prefix: the embedded database serves all its connections from
 * one backend, where another connection's statement of the same name would collide.
 *
 * A named statement whose result columns change under it (`select *` on a table another instance
 * just migrated) fails once with "cached plan must not change result type", and one the database
 * forgot with "does not exist". Its name is
 * then dropped on that connection and, outside a transaction, the statement is sent again at once;
 * inside one, the transaction has failed (its caller sees the error) and the name is dropped when
 * it rolls back.
 */
export function prepareStatements(client: pg.PoolClient, names: StatementNames): void {
  const prefix = `agentry_${++connections}_`;
  // Looked up on every call, not captured: code that wraps the class's query (the tests' statement
  // counter) still sees every statement.
  const proto = Object.getPrototypeOf(client) as { query: (...args: unknown[]) => unknown };
  const send = (...args: unknown[]) => proto.query.call(client, ...args) as Promise<pg.QueryResult>;
  const parsed = (client as unknown as ParsedStatements).connection.parsedStatements;
  let inTransaction = false;
  let generation = names.generation;
  /** Names whose statement failed that way inside a transaction: dropped once it has rolled back. */
  const stale: string[] = [];
  const drop = async (name: string) => {
    await send(`deallocate "${name}"`);
    delete parsed[name];
  };
  (client as unknown as { query: unknown }).query = (config: unknown, values?: unknown, callback?: unknown) => {
    if (typeof config !== 'string' || callback !== undefined) return proto.query.call(client, config, values, callback);
    if (/^(begin|start transaction)\b/i.test(config)) inTransaction = true;
    else if (/^(commit|rollback|end)\b/i.test(config)) {
      inTransaction = false;
      if (stale.length > 0)
        return send(config, values).finally(async () => {
          for (const name of stale.splice(0)) await drop(name);
        });
    }
    const number = Array.isArray(values) && values.length > 0 ? names.numberOf(config) : undefined;
    if (number === undefined) return send(config, values);
    if (generation !== names.generation) {
      generation = names.generation;
      for (const name of Object.keys(parsed)) if (name.startsWith(prefix)) delete parsed[name];
    }
    const statement = { name: `${prefix}${number}`, text: config, values };
    const outside = !inTransaction;
    return send(statement).catch(async (error: unknown) => {
      const code = (error as { code?: string }).code;
      // The database forgot the statement without being told (see forgetAll).
      const forgotten = code === '26000';
      if (!forgotten && (code !== '0A000' || !/cached plan must not change result type/i.test(String(error)))) throw error;
      if (forgotten) delete parsed[statement.name];
      if (!outside) {
        if (!forgotten) stale.push(statement.name);
        throw error;
      }
      if (!forgotten) await drop(statement.name);
      return send(statement);
    });
  };
}
