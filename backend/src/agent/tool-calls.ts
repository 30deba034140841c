import type { ReportedError } from '../errors.ts';
import type { SessionApprovalPolicy } from './approval-gate.ts';
import type { FaultInjector } from '../fault-injection.ts';
import type { StepTrace } from '../observability/index.ts';
import { redactArguments } from '../redaction/index.ts';
import type { CallResult, HeldTurn, LedgerEntry, ToolOutcome, TurnStore } from '../sessions/index.ts';
import { reportToolFailure, type ToolDefinition } from '../tools/index.ts';

/** A turn as its tool calls see it: held under a lease, and stoppable in two ways. */
export interface CallingTurn extends HeldTurn {
  /** Aborted by a cancel or a lost lease: a running tool is told to stop too. */
  readonly signal: AbortSignal;
  /** Aborted by a shutdown: a running tool finishes and is recorded, but no other starts. */
  readonly shutdownSignal: AbortSignal;
}

export interface StepCallsOptions {
  turn: CallingTurn;
  step: number;
  /** The tools the session may call now, by name. */
  tools: ReadonlyMap<string, ToolDefinition>;
  turns: TurnStore;
  /** Crash tests' named kill points. */
  reach: FaultInjector;
  /** The step's span, which each call's span goes under. */
  trace: StepTrace;
  /**
   * Asks a person about the calls that need it (and returns them), before any call runs; they
   * wait while the step's other calls run.
   */
  ask?: ((entries: readonly LedgerEntry[]) => Promise<readonly LedgerEntry[]>) | undefined;
  /** The step's calls as the write of its answer just returned them: not read again. */
  recorded?: readonly LedgerEntry[] | undefined;
  /**
   * The calls (by index) whose `tool.started` went out with the answer (see
   * StepRecords.recordAnswer): each runs without a begin or a completion of its own, its entry
   * completed with the step's results.
   */
  folded?: ReadonlySet<number> | undefined;
}

/**
 * Runs the step's recorded calls in order, each under its ledger entry: `started` before it runs,
 * its result after (a folded call: with the step's answer, and with its results). A completed (or
 * skipped) call is not run again; one that may have begun runs again only if its tool is
 * idempotent, and otherwise the step stops with that call's outcome `unknown`, for the user to
 * decide. A call awaiting approval is passed over (`awaiting`): the
 * others run meanwhile.
 */
export async function runStepCalls(
  options: StepCallsOptions,
): Promise<{ results: CallResult[]; awaiting: boolean } | { unknown: LedgerEntry }> {
  const { turn, turns, reach } = options;
  const results: CallResult[] = [];
  const entries = options.recorded ?? (await turns.steps.callsOf(turn, options.step));
  const asked = new Set((options.ask ? await options.ask(entries) : []).map((e) => e.id));
  let awaiting = false;
  try {
    for (const entry of entries) {
      if (entry.status === 'awaiting_approval' || asked.has(entry.id)) {
        awaiting = true;
        continue;
      }
      if (entry.status === 'completed' || entry.status === 'skipped') {
        results.push({ entry, isError: entry.is_error, value: entry.result, durationMs: entry.duration_ms ?? 0 });
        continue;
      }
      if (entry.status === 'started' && !entry.idempotent) return { unknown: entry };
      // Shutdown lets a running tool finish, but starts no other.
      if (turn.shutdownSignal.aborted) throw turn.shutdownSignal.reason;
      if (turn.signal.aborted) throw turn.signal.reason;
      reach('before-tool');
      const folded = options.folded?.has(entry.call_index) === true;
      if (!folded) await turns.steps.beginCall(turn, entry);
      const span = options.trace.toolCall({ tool: entry.tool, callId: entry.call_id, input: () => redactArguments(entry.input) });
      const outcome = await callTool(options.tools, entry, turn.signal);
      span.end(outcome);
      reach('tool-ran');
      if (!folded) await turns.steps.completeCall(turn, entry, outcome);
      reach('after-tool');
      results.push({ entry, ...outcome, folded });
    }
  } catch (thrown) {
    // The step stopped between its calls (a cancel, a shutdown, a lost lease): the folded calls
    // that ran keep their results in the ledger, as those begun on their own do. Where even that
    // cannot be written, they stay `started`, and idempotent: the turn reacts to what was thrown.
    for (const r of results) if (r.folded === true) await turns.steps.completeCall(turn, r.entry, r).catch(() => undefined);
    throw thrown;
  }
  return { results, awaiting };
}

/**
 * The calls of a new answer that need no begin or completion of their own (see
 * StepRecords.recordAnswer), by index: those of idempotent tools, which may run again after a
 * crash, when none of the step's calls waits for a person (the others' results would then wait in
 * the ledger, where only a completion of their own keeps them).
 */
export function foldedCalls(
  calls: readonly { tool: string }[],
  options: { tools: ReadonlyMap<string, ToolDefinition>; idempotent: (tool: string) => boolean; policy: SessionApprovalPolicy },
): Set<number> {
  const { tools, idempotent, policy } = options;
  if (calls.some((call) => policy.decide(call.tool, tools.get(call.tool)) === 'ask')) return new Set();
  return new Set(calls.flatMap((call, index) => (idempotent(call.tool) ? [index] : [])));
}

/** Runs one tool call; refusals and failures become tool errors the model reads, and the turn goes on. */
async function callTool(tools: ReadonlyMap<string, ToolDefinition>, entry: LedgerEntry, signal: AbortSignal): Promise<ToolOutcome> {
  const started = performance.now();
  const definition = tools.get(entry.tool);
  let outcome: { isError: false; value: unknown } | { isError: true; value: ReportedError };
  if (!definition) {
    const gone = entry.tool.includes('__') ? ' (its integration is not connected now)' : '';
    outcome = { isError: true, value: { code: 'TOOL_NOT_ALLOWED', message: `There is no tool "${entry.tool}" in this session${gone}.` } };
  } else {
    try {
      definition.parse(entry.input);
      outcome = { isError: false, value: await definition.execute(entry.input, { signal, idempotencyKey: entry.idempotency_key }) };
    } catch (error) {
      outcome = { isError: true, value: reportToolFailure(error) };
    }
  }
  return { ...outcome, durationMs: Math.round(performance.now() - started) };
}
