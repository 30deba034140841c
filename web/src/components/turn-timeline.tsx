import { useState } from 'preact/hooks';
import { api, type Answer } from '../api.ts';
import { formatCost, formatDuration, formatNumber } from '../format.ts';
import { useResource } from '../hooks.ts';
import { ErrorNote, Loading } from './ui.tsx';

type Timeline = Answer<'GET', '/v1/turns/{id}/timeline'>;
type Call = Timeline['calls'][number];

/**
 * Where a turn's time and money went: its model calls and tool calls as a list on one time axis,
 * each bar placed at its start and as long as its duration, with the figures written out (the
 * bars only help the eye). Loaded when opened.
 */
export function TurnTimeline({ turnId }: { turnId: string }) {
  const [open, setOpen] = useState(false);
  return (
    <details class="turn-timeline" onToggle={(event) => setOpen((event.currentTarget as HTMLDetailsElement).open)}>
      <summary>Timeline</summary>
      {open && <TimelineList turnId={turnId} />}
    </details>
  );
}

function TimelineList({ turnId }: { turnId: string }) {
  const timeline = useResource((signal) => api('GET', '/v1/turns/{id}/timeline', { params: { id: turnId }, signal }), [turnId]);
  if (timeline.error) return <ErrorNote error={timeline.error} prefix="Could not load the timeline" />;
  if (!timeline.data) return <Loading />;
  const { calls, startedAt, finishedAt } = timeline.data;
  const origin = Date.parse(startedAt);
  const ends = calls.map((c) => (c.startedAt ? Date.parse(c.startedAt) + (c.durationMs ?? 0) : origin));
  const span = Math.max(1, (finishedAt ? Date.parse(finishedAt) : Math.max(origin, ...ends)) - origin, ...ends.map((end) => end - origin));
  const cost = calls.reduce((sum, c) => sum + (c.kind === 'model' ? (c.costUsd ?? 0) : 0), 0);
  return (
    <>
      <p class="muted">
        {formatDuration(span)} in all · {calls.filter((c) => c.kind === 'model').length} model calls ·{' '}
        {calls.filter((c) => c.kind === 'tool').length} tool calls · {formatCost(cost)}
      </p>
      <ol class="timeline-list">
        {calls.map((call, index) => (
          <TimelineRow key={index} call={call} origin={origin} span={span} />
        ))}
      </ol>
    </>
  );
}

function TimelineRow({ call, origin, span }: { call: Call; origin: number; span: number }) {
  const offset = call.startedAt ? Date.parse(call.startedAt) - origin : 0;
  const left = Math.min(100, Math.max(0, (offset / span) * 100));
  const width = call.durationMs === null ? 0 : Math.max(0.5, Math.min(100 - left, (call.durationMs / span) * 100));
  const failed = call.kind === 'model' ? call.error !== null : call.isError;
  const label = call.kind === 'model' ? `Model ${call.model}` : `Tool ${call.tool}`;
  const figures =
    call.kind === 'model'
      ? `${formatNumber(call.inputTokens)} in · ${formatNumber(call.outputTokens)} out · ${formatCost(call.costUsd)}`
      : call.status === 'completed'
        ? call.isError
          ? 'failed'
          : 'ok'
        : call.status;
  return (
    <li class={`timeline-row timeline-${call.kind}${failed ? ' timeline-failed' : ''}`}>
      <span class="timeline-label">
        {label} <span class="muted">(step {call.step})</span>
      </span>
      <span class="timeline-track" aria-hidden="true">
        <span class="timeline-bar" style={{ marginLeft: `${left}%`, width: `${width}%` }} />
      </span>
      <span class="timeline-figures">
        {call.durationMs === null ? 'not run' : `+${formatDuration(offset)}, ${formatDuration(call.durationMs)}`} · {figures}
        {call.kind === 'model' && call.error ? ` · ${call.error.code}` : ''}
      </span>
    </li>
  );
}
