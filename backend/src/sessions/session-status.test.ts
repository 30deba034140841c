import { describe, expect, it } from 'vitest';
import type { SessionStatus } from '../database/index.ts';
import {
  assertTransition,
  canTransition,
  nextStatuses,
  sessionStatuses,
  statusEdges,
  systemEdge,
  type SystemCause,
} from './session-status.ts';

const pairs = sessionStatuses.flatMap((from) => sessionStatuses.map((to) => [from, to] as const));
const edgeSet = (edges: (readonly [SessionStatus, SessionStatus])[]) => edges.map(([from, to]) => `${from}→${to}`).sort();

describe('the session status machine', () => {
  it("gives the user DESIGN's edges and nothing else", () => {
    const user = pairs.filter(([from, to]) => canTransition(from, to, 'user'));
    expect(edgeSet(user)).toEqual(
      edgeSet([
        ['running', 'paused'],
        ['paused', 'running'],
        ['running', 'completed'],
        ['running', 'failed'],
        ['failed', 'running'],
      ]),
    );
  });

  it('keeps the edges only the server takes apart from the user ones: paused → failed is one of them', () => {
    expect(canTransition('paused', 'failed', 'system')).toBe(true);
    expect(canTransition('paused', 'failed', 'user')).toBe(false);
    expect(() => assertTransition('paused', 'failed', 'user')).toThrow(
      expect.objectContaining({ code: 'INVALID_TRANSITION', message: 'A paused session cannot become failed: it can become running.' }),
    );
    expect(() => assertTransition('paused', 'failed', 'system')).not.toThrow();
  });

  it('names each system cause with the edges it may take', () => {
    const causes: Record<SystemCause, { from: SessionStatus[]; to: SessionStatus }> = {
      'outcome-unknown': { from: ['running'], to: 'paused' },
      'resolve-resume': { from: ['paused'], to: 'running' },
      'resolve-fail': { from: ['paused'], to: 'failed' },
      'recovery-exhausted': { from: ['running', 'paused'], to: 'failed' },
      'steps-finished': { from: ['running'], to: 'completed' },
      restore: { from: ['paused', 'failed', 'completed'], to: 'running' },
    };
    for (const [cause, edge] of Object.entries(causes)) expect(systemEdge(cause as SystemCause), cause).toEqual(edge);
    // Every system edge belongs to one of those causes, and a cause leads to one status only.
    for (const edge of statusEdges.filter((e) => e.by === 'system')) expect(causes[edge.cause].to, edge.cause).toBe(edge.to);
  });

  it('answers INVALID_TRANSITION for anything else, by either actor', () => {
    for (const [from, to] of pairs) {
      for (const by of ['user', 'system'] as const) {
        const listed = statusEdges.some((edge) => edge.from === from && edge.to === to && edge.by === by);
        expect(canTransition(from, to, by), `${by}: ${from}→${to}`).toBe(listed);
        if (!listed)
          expect(() => assertTransition(from, to, by)).toThrow(
            expect.objectContaining({ code: 'INVALID_TRANSITION', details: { from, to, allowed: nextStatuses(from, by) } }),
          );
      }
    }
    expect(canTransition('completed', 'running', 'user')).toBe(false);
    expect(() => assertTransition('completed', 'running', 'user')).toThrow(
      'A completed session cannot become running: it cannot change any more.',
    );
    expect(() => assertTransition('running', 'running', 'user')).toThrow(
      'A running session cannot become running: it can become paused or completed or failed.',
    );
  });

  it('lists every edge once, with a reason', () => {
    const keys = statusEdges.map((edge) => `${edge.by}:${edge.cause}:${edge.from}→${edge.to}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const edge of statusEdges) expect(edge.why.length, edge.cause).toBeGreaterThan(0);
  });
});
