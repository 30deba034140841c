import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { Approval } from '../api-shapes.ts';
import { formatJson } from '../format.ts';
import { useResource } from '../hooks.ts';
import { ActionButton, ErrorNote } from './ui.tsx';

type Fields = Record<string, unknown>;
type Property = { type?: string | string[]; description?: string; items?: { type?: string }; format?: string };

/** The fields a person reads first, in this order, when a tool's arguments name them. */
const leading = ['to', 'cc', 'bcc', 'attendees', 'subject', 'title', 'summary', 'start', 'end', 'channel', 'text', 'body'];

const asFields = (value: unknown): Fields => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Fields) : {});
const shown = (value: unknown) => (Array.isArray(value) ? value.join(', ') : typeof value === 'string' ? value : formatJson(value));

/** The arguments as a person reads them: a message's recipients and text, an event's time and attendees first. */
function ArgumentList({ args }: { args: unknown }) {
  const fields = asFields(args);
  const keys = Object.keys(fields).sort((a, b) => rank(a) - rank(b));
  if (keys.length === 0) return <pre>{formatJson(args)}</pre>;
  return (
    <dl class="approval-arguments">
      {keys.map((key) => (
        <div key={key} class="row">
          <dt>{key}</dt>
          <dd data-argument={key}>{shown(fields[key])}</dd>
        </div>
      ))}
    </dl>
  );
}

function rank(key: string): number {
  const at = leading.indexOf(key);
  return at < 0 ? leading.length : at;
}

/**
 * The edit form, generated from the tool's input schema: a text field for each string, number or
 * list of strings (one per line), a checkbox for each flag; anything else is edited as raw JSON.
 * Only the fields changed are sent back changed (the server keeps the others, and any redacted value).
 */
function EditForm({ approval, onSubmit }: { approval: Approval; onSubmit: (args: Fields) => Promise<void> }) {
  const schema = asFields(approval.inputSchema);
  const properties = asFields(schema.properties) as Record<string, Property>;
  const original = asFields(approval.arguments);
  const simple = Object.entries(properties).filter(
    ([, p]) => ['string', 'number', 'integer', 'boolean'].includes(String(p.type)) || (p.type === 'array' && p.items?.type === 'string'),
  );
  const [values, setValues] = useState<Fields>(original);
  const [raw, setRaw] = useState(formatJson(original));
  const [rawMode, setRawMode] = useState(simple.length === 0);
  const [error, setError] = useState<unknown>();
  const set = (key: string, value: unknown) => setValues((current) => ({ ...current, [key]: value }));

  const submit = async () => {
    try {
      await onSubmit(rawMode ? (JSON.parse(raw) as Fields) : values);
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <form
      class="stack approval-edit"
      aria-label={`Edit the arguments of ${approval.tool}`}
      onSubmit={(event) => {
        event.preventDefault();
        void submit();
      }}
    >
      {rawMode ? (
        <>
          <label for={`raw-${approval.id}`}>Arguments (JSON)</label>
          <textarea id={`raw-${approval.id}`} rows={8} value={raw} onInput={(e) => setRaw(e.currentTarget.value)} />
        </>
      ) : (
        simple.map(([key, property]) => {
          const id = `arg-${approval.id}-${key}`;
          const value = values[key];
          if (property.type === 'boolean')
            return (
              <label key={key} class="row">
                <input type="checkbox" checked={value === true} onChange={(e) => set(key, e.currentTarget.checked)} /> {key}
              </label>
            );
          const list = property.type === 'array';
          return (
            <div key={key} class="stack">
              <label for={id}>{key}</label>
              {list || (typeof value === 'string' && value.length > 80) ? (
                <textarea
                  id={id}
                  rows={list ? 3 : 5}
                  value={list ? ((value as string[] | undefined) ?? []).join('\n') : String(value ?? '')}
                  onInput={(e) =>
                    set(key, list ? e.currentTarget.value.split('\n').filter((line) => line.trim() !== '') : e.currentTarget.value)
                  }
                />
              ) : (
                <input
                  id={id}
                  value={value === undefined ? '' : String(value)}
                  onInput={(e) => {
                    const text = e.currentTarget.value;
                    set(key, property.type === 'number' || property.type === 'integer' ? (text === '' ? undefined : Number(text)) : text);
                  }}
                />
              )}
            </div>
          );
        })
      )}
      <div class="row">
        <button type="submit">Approve with these arguments</button>
        {simple.length > 0 && (
          <button type="button" class="link-button" onClick={() => setRawMode(!rawMode)}>
            {rawMode ? 'Use the form' : 'Edit as JSON'}
          </button>
        )}
      </div>
      <ErrorNote error={error} />
    </form>
  );
}

/** One call awaiting approval: what it would do, and Approve / Edit / Deny / Always allow. */
export function ApprovalCard({ approval, integration, onDecided }: { approval: Approval; integration?: string; onDecided: () => void }) {
  const [editing, setEditing] = useState(false);
  const [denying, setDenying] = useState(false);
  const [note, setNote] = useState('');
  const decide = async (body: { action: 'approve' | 'deny'; arguments?: Fields; note?: string; always?: boolean }) => {
    await api('POST', '/v1/sessions/{id}/approvals/{callId}', { params: { id: approval.sessionId, callId: approval.callId }, body });
    onDecided();
  };
  return (
    <article class="card stack approval-card" aria-label={`Approve ${approval.tool}?`} data-tool={approval.tool}>
      <header class="row spread">
        <strong>{approval.tool}</strong>
        <span class="muted">{integration ?? approval.provider ?? 'Agentry'}</span>
      </header>
      <p class="muted">The agent wants to run this tool. It waits for you.</p>
      <ArgumentList args={approval.arguments} />
      {approval.expiresAt && <p class="muted">If no one decides by {new Date(approval.expiresAt).toLocaleString()}, it is denied.</p>}
      {editing ? (
        <EditForm approval={approval} onSubmit={(args) => decide({ action: 'approve', arguments: args })} />
      ) : denying ? (
        <div class="stack">
          <label for={`deny-${approval.id}`}>Note for the agent</label>
          <textarea id={`deny-${approval.id}`} rows={2} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          <ActionButton class="danger" onAction={() => decide({ action: 'deny', ...(note.trim() ? { note: note.trim() } : {}) })}>
            Deny it
          </ActionButton>
        </div>
      ) : (
        <div class="row" role="group" aria-label="Decision">
          <ActionButton onAction={() => decide({ action: 'approve' })}>Approve</ActionButton>
          <button type="button" onClick={() => setEditing(true)}>
            Edit
          </button>
          <button type="button" class="danger" onClick={() => setDenying(true)}>
            Deny
          </button>
          <ActionButton class="link-button" onAction={() => decide({ action: 'approve', always: true })}>
            Always allow
          </ActionButton>
        </div>
      )}
    </article>
  );
}

/**
 * The session's calls awaiting approval, read again whenever `version` changes (the chat bumps it
 * on the session's approval events: it owns the session's stream, and where it starts).
 */
export function ApprovalCards({
  sessionId,
  version,
  names,
  onPending,
}: {
  sessionId: string;
  version: number;
  names?: (provider: string) => string;
  /** Told how many calls wait, each time the list is read: the chat's status line says so. */
  onPending?: (count: number) => void;
}) {
  const pending = useResource(
    (signal) => api('GET', '/v1/approvals', { query: { sessionId }, signal }).then((r) => r.approvals),
    [sessionId, version],
  );
  useEffect(() => {
    if (pending.data) onPending?.(pending.data.length);
  }, [pending.data]);
  if (!pending.data?.length) return <ErrorNote error={pending.error} />;
  return (
    <section class="stack" aria-label="Awaiting your approval">
      {pending.data.map((approval) => (
        <ApprovalCard
          key={approval.id}
          approval={approval}
          integration={approval.provider && names ? names(approval.provider) : undefined}
          onDecided={pending.reload}
        />
      ))}
    </section>
  );
}
