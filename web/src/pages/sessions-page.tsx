import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso/router';
import { api } from '../api.ts';
import type { Checkpoint, Session, SessionStatus } from '../api-shapes.ts';
import { ActionButton, Empty, ErrorNote, Loading, StatusChip } from '../components/ui.tsx';
import { formatAgo, formatCost, formatNumber, formatTime } from '../format.ts';
import { useResource, useTitle, useTopic } from '../hooks.ts';
import { loadNames, sessionTitle, type Names } from '../session-names.ts';

const statuses: SessionStatus[] = ['running', 'paused', 'completed', 'failed'];

interface Filters {
  status: string;
  agentId: string;
  templateId: string;
}

/** A page of the list under `filters`: a filter left at "any" ('') is not sent. */
function sessionQuery(filters: Filters) {
  return {
    // The status menu offers only the session statuses.
    status: (filters.status || undefined) as SessionStatus | undefined,
    agentId: filters.agentId || undefined,
    templateId: filters.templateId || undefined,
    limit: 20,
  };
}

/** Every session, filtered by status, agent or template; each with its checkpoints and a restore. */
export function SessionsPage() {
  useTitle('Sessions');
  const names = useResource(loadNames, []);
  const [filters, setFilters] = useState<Filters>({ status: '', agentId: '', templateId: '' });
  const [pages, setPages] = useState<Session[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  // A page asked for under other filters is dropped when it arrives.
  const shown = useRef(filters);
  shown.current = filters;
  const first = useResource(
    async (signal) => {
      const page = await api('GET', '/v1/sessions', { query: sessionQuery(filters), signal });
      setPages([]);
      setCursor(page.nextCursor);
      return page.sessions;
    },
    [filters.status, filters.agentId, filters.templateId],
  );
  const more = async () => {
    const asked = filters;
    const page = await api('GET', '/v1/sessions', { query: { ...sessionQuery(asked), cursor } });
    if (shown.current !== asked) return;
    setPages((current) => [...current, ...page.sessions]);
    setCursor(page.nextCursor);
  };
  const sessions = [...(first.data ?? []), ...pages];
  const set = (key: keyof Filters) => (event: { currentTarget: { value: string } }) =>
    setFilters((current) => ({ ...current, [key]: event.currentTarget.value }));

  return (
    <section>
      <h1>Sessions</h1>
      <form class="row filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect
          id="filter-status"
          label="Status"
          value={filters.status}
          onChange={set('status')}
          options={statuses.map((status) => [status, status])}
        />
        <FilterSelect
          id="filter-agent"
          label="Agent"
          value={filters.agentId}
          onChange={set('agentId')}
          options={[...(names.data?.agents ?? [])]}
        />
        <FilterSelect
          id="filter-template"
          label="Template"
          value={filters.templateId}
          onChange={set('templateId')}
          options={[...(names.data?.templates ?? [])]}
        />
      </form>
      <ErrorNote error={first.error} />
      {first.loading && !first.data && <Loading />}
      {first.data && sessions.length === 0 && <Empty>No sessions match.</Empty>}
      <ul class="list" aria-label="Sessions">
        {sessions.map((session) => (
          <SessionRow key={session.id} session={session} names={names.data} />
        ))}
      </ul>
      {cursor && <ActionButton onAction={more}>Load more</ActionButton>}
    </section>
  );
}

/** One filter: "Any", then each option as [value, label]. */
function FilterSelect(props: {
  id: string;
  label: string;
  value: string;
  onChange: (event: { currentTarget: { value: string } }) => void;
  options: Array<[string, string]>;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={props.onChange}>
        <option value="">Any</option>
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A session with its live status; opening it shows its checkpoint timeline. */
function SessionRow({ session, names }: { session: Session; names: Names | undefined }) {
  const [status, setStatus] = useState(session.status);
  useEffect(() => setStatus(session.status), [session.status]);
  const [open, setOpen] = useState(false);
  useTopic(
    `session:${session.id}`,
    (frame) => frame.event === 'session.status_changed' && setStatus(String(frame.data.to) as SessionStatus),
  );
  const title = sessionTitle(session, names);
  return (
    <li class="card session-row">
      <div class="row spread">
        <h2 class="card-title">
          <a href={`/chat/${session.id}`}>{title}</a>
        </h2>
        <StatusChip status={status} />
      </div>
      <p class="muted">
        Started {formatTime(session.startedAt)} · active {formatAgo(session.lastActiveAt)} · {formatNumber(session.counters.messages)}{' '}
        messages · {formatNumber(session.counters.toolCalls)} tool calls ·{' '}
        {formatCost(session.counters.costUsd, { estimated: session.counters.costEstimated })}
      </p>
      <details onToggle={(e) => setOpen(e.currentTarget.open)}>
        <summary>Checkpoints</summary>
        {open && <CheckpointTimeline sessionId={session.id} title={title} />}
      </details>
    </li>
  );
}

/** The session's checkpoints, newest first; restoring one continues the session from there. */
function CheckpointTimeline({ sessionId, title }: { sessionId: string; title: string }) {
  const { route } = useLocation();
  const checkpoints = useResource(
    (signal) => api('GET', '/v1/sessions/{id}/checkpoints', { params: { id: sessionId }, signal }).then((r) => r.checkpoints),
    [sessionId],
  );
  const restore = async (checkpoint: Checkpoint) => {
    await api('POST', '/v1/sessions/{id}/restore', { params: { id: sessionId }, body: { checkpointId: checkpoint.id } });
    route(`/chat/${sessionId}`);
  };
  if (checkpoints.error) return <ErrorNote error={checkpoints.error} />;
  if (!checkpoints.data) return <Loading />;
  if (checkpoints.data.length === 0) return <Empty>No checkpoints yet.</Empty>;
  return (
    <ol class="timeline">
      {checkpoints.data.map((checkpoint) => (
        <li key={checkpoint.id}>
          <div class="row spread">
            <span>
              <strong>{checkpoint.name ?? `#${checkpoint.seq}`}</strong>{' '}
              <span class="muted">
                {checkpoint.reason.replace(/_/g, ' ')} · step {checkpoint.step}
              </span>
            </span>
            <time dateTime={checkpoint.createdAt} class="muted">
              {formatTime(checkpoint.createdAt)}
            </time>
          </div>
          <ActionButton
            onAction={() => restore(checkpoint)}
            confirm={`Restore ${title} to checkpoint ${checkpoint.name ?? `#${checkpoint.seq}`}? Messages after it are removed.`}
            label={`Restore checkpoint ${checkpoint.name ?? `#${checkpoint.seq}`}`}
          >
            Restore
          </ActionButton>
        </li>
      ))}
    </ol>
  );
}
