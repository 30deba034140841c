import type { SessionStatus } from '../database/index.ts';
import { AppError } from '../errors.ts';

export const sessionStatuses = ['running', 'paused', 'completed', 'failed'] as const satisfies readonly SessionStatus[];

/**
 * Who moves a session along an edge: `user` edges are what `POST /v1/sessions/:id/status` may do;
 * `system` edges are what the server does as the consequence of something else (the agent loop, a
 * recovery, the answer to `resolve`, a restore), each under a named `cause`.
 */
export type StatusActor = 'user' | 'system';

interface StatusEdge {
  readonly from: SessionStatus;
  readonly to: SessionStatus;
  readonly by: StatusActor;
  readonly cause: string;
  readonly why: string;
}

/**
 * The status machine, every edge of it and why it exists. A session is `running` while it accepts
 * turns, whether or not one is executing. The user edges are DESIGN's: `running ⇄ paused`,
 * `running → completed | failed`, `failed → running` (recover). Anything not listed is
 * INVALID_TRANSITION.
 */
export const statusEdges = [
  { from: 'running', to: 'paused', by: 'user', cause: 'pause', why: 'the user holds the session: no turn starts until it is resumed' },
  { from: 'running', to: 'completed', by: 'user', cause: 'complete', why: 'the user ends the session as done' },
  { from: 'running', to: 'failed', by: 'user', cause: 'fail', why: 'the user ends the session as failed' },
  { from: 'paused', to: 'running', by: 'user', cause: 'resume', why: 'the user lets the session take turns again' },
  { from: 'failed', to: 'running', by: 'user', cause: 'recover', why: 'the user gives a failed session another go' },

  {
    from: 'running',
    to: 'paused',
    by: 'system',
    cause: 'outcome-unknown',
    why: 'a call of a tool that must not run twice may or may not have run: the session waits for the user to resolve it',
  },
  {
    from: 'paused',
    to: 'running',
    by: 'system',
    cause: 'resolve-resume',
    why: 'the user chose to retry or skip that call: the turn goes on',
  },
  {
    from: 'paused',
    to: 'failed',
    by: 'system',
    cause: 'resolve-fail',
    why: 'the user chose to fail the session rather than decide on that call',
  },
  {
    from: 'running',
    to: 'failed',
    by: 'system',
    cause: 'recovery-exhausted',
    why: 'a turn was interrupted and resumed too often without finishing',
  },
  {
    from: 'paused',
    to: 'failed',
    by: 'system',
    cause: 'recovery-exhausted',
    why: 'the same, for a session the user had paused while the turn still ran',
  },
  { from: 'running', to: 'completed', by: 'system', cause: 'steps-finished', why: "the agent finished the template's steps" },
  {
    from: 'paused',
    to: 'running',
    by: 'system',
    cause: 'restore',
    why: 'a restore to a checkpoint continues the session from there, whatever its status',
  },
  { from: 'failed', to: 'running', by: 'system', cause: 'restore', why: 'as above' },
  { from: 'completed', to: 'running', by: 'system', cause: 'restore', why: 'as above' },
] as const satisfies readonly StatusEdge[];

type Edge = (typeof statusEdges)[number];

/** The named reasons the server moves a session on its own. */
export type SystemCause = Extract<Edge, { by: 'system' }>['cause'];

/** The statuses `from` may become by `by`'s edges, in the table's order. */
export function nextStatuses(from: SessionStatus, by: StatusActor): SessionStatus[] {
  const next: SessionStatus[] = [];
  for (const edge of statusEdges) if (edge.from === from && edge.by === by && !next.includes(edge.to)) next.push(edge.to);
  return next;
}

/** Whether the machine has an edge `from → to` that `by` may take. */
export function canTransition(from: SessionStatus, to: SessionStatus, by: StatusActor): boolean {
  return statusEdges.some((edge) => edge.from === from && edge.to === to && edge.by === by);
}

/** Throws 409 INVALID_TRANSITION unless `by` may move `from → to`, saying what the session could become instead. */
export function assertTransition(from: SessionStatus, to: SessionStatus, by: StatusActor): void {
  if (canTransition(from, to, by)) return;
  const allowed = nextStatuses(from, by);
  const options = allowed.length > 0 ? `it can become ${allowed.join(' or ')}` : 'it cannot change any more';
  throw new AppError('INVALID_TRANSITION', `A ${from} session cannot become ${to}: ${options}.`, { details: { from, to, allowed } });
}

/**
 * A system cause's edges as one guarded write needs them: the status it leads to and the statuses
 * it may leave (checked in the same statement that changes the row, so no race slips between).
 */
export function systemEdge(cause: SystemCause): { from: SessionStatus[]; to: SessionStatus } {
  const edges = statusEdges.filter((edge) => edge.by === 'system' && edge.cause === cause);
  const to = edges[0]?.to;
  // The table is a constant; the unit test holds every cause to one target status.
  if (!to) throw new Error(`No status edge has the cause ${cause}.`);
  return { from: edges.map((edge) => edge.from), to };
}
