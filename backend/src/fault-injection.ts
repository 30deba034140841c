/**
 * Named points in a turn where a crash test may kill the process: the settings FAULT_INJECTION_KILL_AT
 * lists them, and it is empty (off) by default. The product code names its points and calls
 * `reach` at each; what happens there is decided here, once, from configuration. A test restarts
 * the server and checks that nothing was lost or done twice.
 *
 * - `before-tool`: a tool call is recorded in the ledger, and has not begun.
 * - `tool-ran`: the tool returned, and its result is not recorded yet (its outcome is unknown).
 * - `after-tool`: the result is recorded in the ledger, and the step's checkpoint is not.
 * - `after-checkpoint`: the step's transaction (messages, counters, checkpoint, events) committed.
 * - `firing-claimed`: a trigger's firing is claimed to start, and its session is not made yet.
 */
export const faultPoints = ['before-tool', 'tool-ran', 'after-tool', 'after-checkpoint', 'firing-claimed'] as const;
export type FaultPoint = (typeof faultPoints)[number];

export type FaultInjector = (point: FaultPoint) => void;

export function faultInjector(killAt: readonly FaultPoint[]): FaultInjector {
  if (killAt.length === 0) return () => undefined;
  const armed = new Set(killAt);
  return (point) => {
    if (armed.has(point)) process.kill(process.pid, 'SIGKILL');
  };
}
