import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { useResource, useTopic } from '../hooks.ts';

/**
 * The header's count of tool calls awaiting the user's approval, across sessions, kept live by the
 * user's `approvals` topic; it opens the list, each call linking to its chat.
 */
export function ApprovalBadge() {
  const [open, setOpen] = useState(false);
  const pending = useResource((signal) => api('GET', '/v1/approvals', { query: { limit: 200 }, signal }).then((r) => r.approvals), []);
  useTopic('approvals', (frame) => {
    if (frame.event === 'tool.approval_requested' || frame.event === 'tool.approval_decided') pending.reload();
  });
  const count = pending.data?.length ?? 0;
  return (
    <span class="approval-badge">
      <button
        type="button"
        class={`link-button${count > 0 ? ' has-pending' : ''}`}
        aria-expanded={open}
        aria-label={`Approvals: ${count} waiting`}
        onClick={() => setOpen(!open)}
      >
        Approvals{' '}
        <span class="count" data-count={count}>
          {count}
        </span>
      </button>
      {open && (
        <div class="card approval-list" role="region" aria-label="Calls awaiting your approval">
          {count === 0 ? (
            <p class="muted">Nothing awaits your approval.</p>
          ) : (
            <ul class="list">
              {pending.data!.map((approval) => (
                <li key={approval.id}>
                  <a href={`/chat/${approval.sessionId}`} onClick={() => setOpen(false)}>
                    {approval.tool}
                  </a>{' '}
                  <span class="muted">{new Date(approval.createdAt).toLocaleTimeString()}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </span>
  );
}
