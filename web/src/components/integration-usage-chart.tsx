import type { ComponentChildren } from 'preact';
import type { UsageBucket } from '../api-shapes.ts';
import { formatDuration, formatNumber } from '../format.ts';

// The drawing's own units; the SVG scales to its box and the text stays readable down to 375 px.
const width = 360;
const height = 150;
const margin = { top: 12, right: 8, bottom: 24, left: 44 };
const plotWidth = width - margin.left - margin.right;
const plotHeight = height - margin.top - margin.bottom;

/** A day as its axis label: the bucket starts at UTC midnight, so it is named in UTC. */
export function dayLabel(start: string): string {
  return new Date(start).toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

/** The top of an axis: a round number at or above the largest value, never zero. */
function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((s) => s * magnitude >= value) ?? 10;
  return step * magnitude;
}

/** Where bucket `index` is centred on the x axis. */
const xOf = (index: number, count: number) => margin.left + ((index + 0.5) * plotWidth) / count;

/** The value at the top of a chart and the gridlines up to it. */
interface Scale {
  max: number;
  ticks: number[];
}

/** A round top at or above `value`, with a middle gridline where it falls on a value `whole` allows. */
function scaleFor(value: number, whole: boolean): Scale {
  const max = niceCeiling(value);
  return { max, ticks: !whole || Number.isInteger(max / 2) ? [0, max / 2, max] : [0, max] };
}

/** Where a value sits on the y axis of a chart scaled to `max`. */
const yOf = (value: number, max: number) => margin.top + plotHeight - (value / max) * plotHeight;

interface FrameProps {
  id: string;
  title: string;
  description: string;
  /** Swatches naming each series by its colour, shown under the title. */
  legend: Array<{ label: string; swatch: string }>;
  scale: Scale;
  format: (value: number) => string;
  buckets: UsageBucket[];
  children: ComponentChildren;
}

/** A chart's box: its visible title and legend, the gridlines and axes, and the series inside. */
function Frame({ id, title, description, legend, scale, format, buckets, children }: FrameProps) {
  return (
    <figure class="usage-figure">
      {/* Said once: the SVG's title and description carry it for screen readers. */}
      <figcaption aria-hidden="true">
        <span class="usage-figure-title">{title}</span>
        {legend.map(({ label, swatch }) => (
          <span key={label} class="usage-legend-item">
            <span class={`usage-swatch ${swatch}`} />
            {label}
          </span>
        ))}
      </figcaption>
      <svg class="usage-chart" viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby={`${id}-title ${id}-desc`}>
        <title id={`${id}-title`}>{title}</title>
        <desc id={`${id}-desc`}>{description}</desc>
        {scale.ticks.map((tick) => (
          <g key={tick} aria-hidden="true">
            <line class="usage-grid" x1={margin.left} x2={width - margin.right} y1={yOf(tick, scale.max)} y2={yOf(tick, scale.max)} />
            <text class="usage-axis" x={margin.left - 4} y={yOf(tick, scale.max)} text-anchor="end" dominant-baseline="middle">
              {format(tick)}
            </text>
          </g>
        ))}
        {buckets.map((bucket, index) => (
          <text key={bucket.start} class="usage-axis" x={xOf(index, buckets.length)} y={height - 6} text-anchor="middle" aria-hidden="true">
            {dayLabel(bucket.start)}
          </text>
        ))}
        {children}
      </svg>
    </figure>
  );
}

/** Calls per day as bars, the part of each that failed in the error colour. */
export function CallsChart({ buckets }: { buckets: UsageBucket[] }) {
  const calls = buckets.reduce((sum, b) => sum + b.calls, 0);
  const errors = buckets.reduce((sum, b) => sum + b.errors, 0);
  const scale = scaleFor(Math.max(...buckets.map((b) => b.calls)), true);
  const barWidth = Math.min(28, (plotWidth / buckets.length) * 0.6);
  const heightOf = (value: number) => (value / scale.max) * plotHeight;
  return (
    <Frame
      id="usage-calls"
      title="Calls and errors per day"
      legend={[
        { label: 'Calls', swatch: 'usage-swatch-calls' },
        { label: 'Errors', swatch: 'usage-swatch-errors' },
      ]}
      description={`${formatNumber(calls)} ${calls === 1 ? 'call' : 'calls'} and ${formatNumber(errors)} ${errors === 1 ? 'error' : 'errors'} over ${buckets.length} days; the table below lists each day.`}
      scale={scale}
      format={formatNumber}
      buckets={buckets}
    >
      {buckets.map((bucket, index) => {
        const x = xOf(index, buckets.length) - barWidth / 2;
        const base = margin.top + plotHeight;
        return (
          <g key={bucket.start}>
            <rect class="usage-bar-calls" x={x} width={barWidth} y={base - heightOf(bucket.calls)} height={heightOf(bucket.calls)} />
            <rect class="usage-bar-errors" x={x} width={barWidth} y={base - heightOf(bucket.errors)} height={heightOf(bucket.errors)} />
          </g>
        );
      })}
    </Frame>
  );
}

/** The p95 duration per day as a line; days without calls leave a gap rather than a false zero. */
export function DurationChart({ buckets }: { buckets: UsageBucket[] }) {
  const measured = buckets.filter((b) => b.p95Ms !== null);
  const slowest = Math.max(0, ...measured.map((b) => b.p95Ms ?? 0));
  const scale = scaleFor(slowest, false);
  const segments: string[][] = [[]];
  buckets.forEach((bucket, index) => {
    if (bucket.p95Ms === null) segments.push([]);
    else segments.at(-1)?.push(`${xOf(index, buckets.length)},${yOf(bucket.p95Ms, scale.max)}`);
  });
  return (
    <Frame
      id="usage-p95"
      title="95th percentile call duration per day"
      legend={[{ label: 'p95', swatch: 'usage-swatch-p95' }]}
      description={
        measured.length === 0
          ? 'No calls to measure.'
          : `The slowest day's 95th percentile was ${formatDuration(slowest)}; the table below lists each day.`
      }
      scale={scale}
      format={formatDuration}
      buckets={buckets}
    >
      {segments
        .filter((points) => points.length > 1)
        .map((points) => (
          <polyline key={points[0]} class="usage-line" points={points.join(' ')} />
        ))}
      {buckets.map(
        (bucket, index) =>
          bucket.p95Ms !== null && (
            <circle key={bucket.start} class="usage-point" cx={xOf(index, buckets.length)} cy={yOf(bucket.p95Ms, scale.max)} r={3} />
          ),
      )}
    </Frame>
  );
}
