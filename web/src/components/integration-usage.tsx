import { api } from '../api.ts';
import type { ToolStats, UsageBucket } from '../api-shapes.ts';
import { formatAgo, formatDuration, formatNumber, formatTime } from '../format.ts';
import { useResource } from '../hooks.ts';
import { CallsChart, dayLabel, DurationChart } from './integration-usage-chart.tsx';
import { Empty, ErrorNote, Loading } from './ui.tsx';

const days = 7;

/** The last `days` whole UTC days, today included (the server's day buckets start at UTC midnight). */
function lastDays(now = new Date()): { from: string; to: string } {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - (days - 1)));
  return { from: from.toISOString(), to: now.toISOString() };
}

async function loadUsage(signal: AbortSignal): Promise<{ buckets: UsageBucket[]; tools: ToolStats[] }> {
  const range = lastDays();
  const [usage, stats] = await Promise.all([
    api('GET', '/v1/integrations/usage', { query: { ...range, bucket: 'day' }, signal }),
    api('GET', '/v1/integrations/stats', { query: range, signal }),
  ]);
  return { buckets: usage.buckets, tools: stats.tools };
}

const plural = (count: number, one: string, many: string) => `${formatNumber(count)} ${count === 1 ? one : many}`;

/**
 * The user's integration tool calls over the last week: calls and errors per day, the p95
 * duration per day, the same figures as a table for those who cannot see the charts, and each
 * tool's totals. Loaded again whenever `version` changes (the page bumps it when a call is made).
 */
export function IntegrationUsage({ version }: { version: number }) {
  const usage = useResource(loadUsage, [version]);
  const calls = usage.data?.buckets.reduce((sum, b) => sum + b.calls, 0) ?? 0;
  const errors = usage.data?.buckets.reduce((sum, b) => sum + b.errors, 0) ?? 0;
  return (
    <section aria-labelledby="usage-heading" class="integration-usage">
      <h2 id="usage-heading">Usage</h2>
      <ErrorNote error={usage.error} prefix="Usage could not be loaded" />
      {usage.loading && !usage.data && <Loading label="Loading usage…" />}
      {usage.data && calls === 0 && usage.data.tools.length === 0 && (
        <Empty>No tool calls in the last {days} days. Calls that sessions make to connected integrations show here.</Empty>
      )}
      {usage.data && (calls > 0 || usage.data.tools.length > 0) && (
        <>
          <p class="usage-total">
            {plural(calls, 'call', 'calls')}, {plural(errors, 'error', 'errors')} in the last {days} days{' '}
            <span class="muted">(days in UTC)</span>
          </p>
          <div class="usage-charts">
            <CallsChart buckets={usage.data.buckets} />
            <DurationChart buckets={usage.data.buckets} />
          </div>
          <UsageTable buckets={usage.data.buckets} />
          <ToolStatsTable tools={usage.data.tools} />
        </>
      )}
    </section>
  );
}

function UsageTable({ buckets }: { buckets: UsageBucket[] }) {
  return (
    <details class="usage-table">
      <summary>Usage per day as a table</summary>
      {/* Focusable: a table wider than a phone scrolls here, and the keyboard must reach it. */}
      <div class="table-wrap" role="region" aria-label="Usage per day" tabIndex={0}>
        <table>
          <caption class="muted">Calls, errors and 95th percentile duration per day (UTC)</caption>
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col">Calls</th>
              <th scope="col">Errors</th>
              <th scope="col">p95</th>
            </tr>
          </thead>
          <tbody>
            {buckets.map((bucket) => (
              <tr key={bucket.start}>
                <th scope="row">{dayLabel(bucket.start)}</th>
                <td>{formatNumber(bucket.calls)}</td>
                <td>{formatNumber(bucket.errors)}</td>
                <td>{bucket.p95Ms === null ? '—' : formatDuration(bucket.p95Ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

function ToolStatsTable({ tools }: { tools: ToolStats[] }) {
  return (
    <>
      <h3 id="usage-by-tool">By tool</h3>
      <div class="table-wrap" role="region" aria-labelledby="usage-by-tool" tabIndex={0}>
        <table aria-label="Usage by tool">
          <thead>
            <tr>
              <th scope="col">Tool</th>
              <th scope="col">Calls</th>
              <th scope="col">Errors</th>
              <th scope="col">p50</th>
              <th scope="col">p95</th>
              <th scope="col">Last used</th>
            </tr>
          </thead>
          <tbody>
            {tools.map((tool) => (
              <tr key={tool.tool}>
                <th scope="row">
                  <code>{tool.tool}</code>
                </th>
                <td>{formatNumber(tool.calls)}</td>
                <td>{formatNumber(tool.errors)}</td>
                <td>{formatDuration(tool.p50Ms)}</td>
                <td>{formatDuration(tool.p95Ms)}</td>
                <td>
                  <time dateTime={tool.lastUsedAt} title={formatTime(tool.lastUsedAt)}>
                    {formatAgo(tool.lastUsedAt)}
                  </time>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
