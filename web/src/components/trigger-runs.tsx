import { useEffect } from 'preact/hooks';
import { api } from '../api.ts';
import { Empty, ErrorNote, StatusChip } from './ui.tsx';
import { formatTime } from '../format.ts';
import { useResource } from '../hooks.ts';
import type { TriggerRun } from '../api-shapes.ts';

/** While a run shown has no outcome yet, the history is read again this often. */
const refreshMs = 2_000;

/** What a run's chip says: its outcome once it has one, else where it stands. */
function runState(run: TriggerRun): string {
  if (run.outcome) return run.outcome;
  return run.status === 'started' ? 'running' : run.status;
}

/**
 * A trigger's newest runs: when each was due and fired, how it ended, and a link to its session.
 * Read again when `version` changes (a run ended, the user fired one) and, while a run is going,
 * every few seconds, so a run is seen from pending to its end.
 */
export function TriggerRuns({ triggerId, version }: { triggerId: string; version: number }) {
  const runs = useResource(
    (signal) => api('GET', '/v1/triggers/{id}/runs', { params: { id: triggerId }, query: { limit: 10 }, signal }).then((r) => r.runs),
    [triggerId, version],
  );
  const going = runs.data?.some((run) => !run.outcome) ?? false;
  useEffect(() => {
    if (!going) return;
    const timer = setInterval(runs.reload, refreshMs);
    return () => clearInterval(timer);
  }, [going]);

  return (
    <section class="trigger-runs" aria-label="Run history">
      <h3>Run history</h3>
      <ErrorNote error={runs.error} />
      {runs.data?.length === 0 && <Empty>No runs yet.</Empty>}
      {runs.data && runs.data.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Fired</th>
                <th scope="col">By</th>
                <th scope="col">Outcome</th>
                <th scope="col">Session</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.map((run) => (
                <tr key={run.id}>
                  <td>
                    <time dateTime={run.firedAt}>{formatTime(run.firedAt)}</time>
                    {run.scheduledAt && (
                      <span class="hint">
                        {' '}
                        (due <time dateTime={run.scheduledAt}>{formatTime(run.scheduledAt)}</time>)
                      </span>
                    )}
                  </td>
                  <td>{run.source === 'manual' ? 'you' : run.source}</td>
                  <td>
                    <StatusChip status={runState(run)} />
                    {run.error && <span class="hint run-error"> {run.error.message}</span>}
                  </td>
                  <td>
                    {run.sessionId ? (
                      <a href={`/chat/${run.sessionId}`}>
                        Open session<span class="visually-hidden"> of the run fired {formatTime(run.firedAt)}</span>
                      </a>
                    ) : (
                      <span class="muted">—</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
