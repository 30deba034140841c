import { sql, type QueryCreator, type Selectable } from 'kysely';
import { toJsonText, type DatabaseSchema, type Executor, type PostgresDatabase, type ToolCallsTable } from '../database/index.ts';
import type { ReportedError } from '../errors.ts';
import type { ChangeExpressions } from '../events/index.ts';
import { LeaseLost, type TurnLeases } from './turn-leases.ts';

export type LedgerEntry = Selectable<ToolCallsTable>;

/** A ledger row as `json_agg` gives it: its timestamps as text. */
export type LedgerEntryJson = Omit<LedgerEntry, 'created_at' | 'finished_at'> & { created_at: string; finished_at: string | null };

/** A ledger row read back from JSON (a statement that returns the rows it wrote beside its own), as a select would give it. */
export function ledgerEntryFromJson(row: LedgerEntryJson): LedgerEntry {
  return { ...row, created_at: new Date(row.created_at), finished_at: row.finished_at === null ? null : new Date(row.finished_at) };
}

export interface NewLedgerEntry {
  sessionId: string;
  turnId: string;
  userId: string;
  step: number;
  callIndex: number;
  callId: string;
  tool: string;
  input: unknown;
  idempotent: boolean;
  /**
   * Recorded `started` (its first attempt) rather than `pending`: a call of an idempotent tool
   * that runs at once, begun with the answer that asks for it (see StepRecords.recordAnswer).
   */
  started?: boolean | undefined;
}

export interface ToolOutcome {
  isError: boolean;
  value: unknown;
  durationMs: number;
}

/** The key that names one tool call for good: the same after any number of crashes. */
export const idempotencyKey = (entry: { sessionId: string; turnId: string; step: number; callIndex: number }) =>
  `${entry.sessionId}:${entry.turnId}:${entry.step}:${entry.callIndex}`;

/**
 * The tool-call ledger. A step's calls are recorded (`pending`) with the model's answer that asks
 * for them; each is marked `started` just before it runs and `completed` with its result just
 * after, before the step's checkpoint. So after a crash: `completed` is never run again (its
 * result is used), `pending` never began and runs, and `started` may or may not have had its
 * effect: it runs again only if its tool is idempotent, otherwise the user decides. A call of an
 * idempotent tool that runs at once is therefore recorded `started` with the answer and completed
 * with the step's results: it runs again after a crash either way, so no write of its own need be
 * durable before it runs or before the results are.
 *
 * Every write after the first is fenced by the turn's lease: an execution that lost its lease
 * records nothing, and a call is begun by one execution only.
 */
export class ToolLedger {
  constructor(private readonly database: PostgresDatabase) {}

  async record(tx: Executor, entries: readonly NewLedgerEntry[]): Promise<LedgerEntry[]> {
    if (entries.length === 0) return [];
    return this.insert(tx, entries).returningAll().execute();
  }

  /** The insert `record` makes. */
  insert(db: QueryCreator<DatabaseSchema>, entries: readonly NewLedgerEntry[]) {
    return db.insertInto('tool_calls').values(this.rows(entries));
  }

  /** The ledger's rows for new entries, to insert as part of a larger statement (a step's answer). */
  rows(entries: readonly NewLedgerEntry[]) {
    return entries.map((e) => ({
      idempotency_key: idempotencyKey(e),
      session_id: e.sessionId,
      turn_id: e.turnId,
      user_id: e.userId,
      step: e.step,
      call_index: e.callIndex,
      call_id: e.callId,
      tool: e.tool,
      input: toJsonText(e.input ?? null),
      idempotent: e.idempotent,
      ...(e.started === true ? { status: 'started' as const, attempts: 1 } : {}),
    }));
  }

  async forStep(turnId: string, step: number): Promise<LedgerEntry[]> {
    return this.database.db
      .selectFrom('tool_calls')
      .selectAll()
      .where('turn_id', '=', turnId)
      .where('step', '=', step)
      .orderBy('call_index')
      .execute();
  }

  /**
   * Marks the call as begun, as the change of a statement that also records its event (see
   * StepRecords.beginCall): the turn's lease renewed first (the session's row, then the turn's),
   * if `token` still holds the turn, then the call, only from the status it was read in: of two
   * executions racing for one call, the second finds it changed and stops.
   */
  beginning(entry: LedgerEntry, token: string, leases: TurnLeases): ChangeExpressions {
    return [
      ...leases.renewalExpressions(entry.turn_id, token),
      [
        'call',
        sql`update tool_calls set status = 'started', attempts = attempts + 1
            where id = ${entry.id} and status = ${entry.status} and exists (select 1 from lease)
            returning id`,
      ],
    ];
  }

  /**
   * Records the call's result, in one statement that renews the turn's lease (so the turn's row
   * is held while it writes), if `token` still holds the turn.
   */
  async complete(entry: LedgerEntry, outcome: ToolOutcome, token: string, leases: TurnLeases): Promise<void> {
    const row = await this.database.db
      .with('lease', (db) =>
        db
          .updateTable('turns')
          .set({ lease_expires_at: leases.expiry() })
          .where('id', '=', entry.turn_id)
          .where('lease_owner', '=', token)
          .where('status', '=', 'running')
          .returning('id'),
      )
      .updateTable('tool_calls')
      .set(completedColumns(outcome))
      .where('id', '=', entry.id)
      .where('status', '=', 'started')
      .where((eb) => eb.exists(eb.selectFrom('lease').select('lease.id')))
      .returning('tool_calls.id')
      .executeTakeFirst();
    if (!row) throw new LeaseLost(`The turn ${entry.turn_id} is no longer held by ${token}.`);
  }

  /**
   * The result of a call begun with its step's answer (see NewLedgerEntry.started), as `complete`
   * records it, but as a part of the statement that records the step's results, gated on the part
   * `from` (the lease's renewal) when given (a transaction that renewed the lease needs no gate).
   */
  completion(db: QueryCreator<DatabaseSchema>, entry: LedgerEntry, outcome: ToolOutcome, options: { from?: string | undefined } = {}) {
    const update = db.updateTable('tool_calls').set(completedColumns(outcome)).where('id', '=', entry.id).where('status', '=', 'started');
    const { from } = options;
    return (from ? update.where(sql<boolean>`exists (select 1 from ${sql.table(from)})`) : update).returning('id');
  }

  /**
   * The user's decision on calls whose outcome is unknown: run them again, or skip them with a
   * note the model reads as the call's (failed) result.
   */
  async resolveUnknown(tx: Executor, turnId: string, decision: { action: 'retry' } | { action: 'skip'; note: string }): Promise<number> {
    const result = await tx
      .updateTable('tool_calls')
      .set(
        decision.action === 'retry'
          ? { status: 'pending' }
          : {
              status: 'skipped',
              is_error: true,
              result: toJsonText({ code: 'TOOL_SKIPPED', message: decision.note } satisfies ReportedError),
              finished_at: sql<Date>`now()`,
            },
      )
      .where('turn_id', '=', turnId)
      .where('status', '=', 'started')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }
}

/** What a call's completion writes in its ledger entry. */
function completedColumns(outcome: ToolOutcome) {
  return {
    status: 'completed' as const,
    result: toJsonText(outcome.value ?? null),
    is_error: outcome.isError,
    duration_ms: outcome.durationMs,
    finished_at: sql<Date>`now()`,
  };
}
