import type { ComponentChildren } from 'preact';
import { messageOf } from '../api.ts';
import { formatJson } from '../format.ts';
import { useAction } from '../hooks.ts';

const tones: Record<string, 'ok' | 'busy' | 'warn' | 'bad' | 'idle'> = {
  connected: 'ok',
  completed: 'ok',
  ok: 'ok',
  running: 'busy',
  processing: 'busy',
  pending: 'busy',
  paused: 'idle',
  degraded: 'warn',
  step_limit: 'warn',
  cancelled: 'idle',
  error: 'bad',
  failed: 'bad',
  disconnected: 'idle',
  missing: 'warn',
};

/** A status as a small labelled chip; the word is always shown, the colour only helps. */
export function StatusChip({ status, label }: { status: string; label?: string }) {
  return (
    <span class={`chip chip-${tones[status] ?? 'idle'}`} data-status={status}>
      {label ?? status.replace('_', ' ')}
    </span>
  );
}

/** A failure, said plainly, announced to screen readers. */
export function ErrorNote({ error, prefix }: { error: unknown; prefix?: string }) {
  if (!error) return null;
  return (
    <p class="error-note" role="alert">
      {prefix ? `${prefix}: ` : ''}
      {messageOf(error)}
    </p>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      {label}
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty muted">{children}</p>;
}

/** Structured data (a tool's arguments or result) shown as text, collapsed until asked for. */
export function JsonDetails({ summary, value }: { summary: string; value: unknown }) {
  return (
    <details class="json">
      <summary>{summary}</summary>
      <pre>{formatJson(value)}</pre>
    </details>
  );
}

/**
 * A button for an action that needs the server: disabled while it runs, its failure shown beside
 * it. `confirm` asks first, for what cannot be undone.
 */
export function ActionButton(props: {
  onAction: () => Promise<unknown>;
  children: ComponentChildren;
  class?: string;
  confirm?: string;
  disabled?: boolean;
  label?: string;
}) {
  const { busy, error, run } = useAction();
  const press = async () => {
    if (props.confirm && !window.confirm(props.confirm)) return;
    await run(() => props.onAction());
  };
  return (
    <span class="action">
      <button
        type="button"
        class={props.class ?? ''}
        disabled={busy || props.disabled}
        aria-busy={busy}
        aria-label={props.label}
        onClick={press}
      >
        {props.children}
      </button>
      <ErrorNote error={error} />
    </span>
  );
}
