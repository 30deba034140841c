import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { Notification } from '../api-shapes.ts';
import { formatAgo } from '../format.ts';
import { useResource, useTopic } from '../hooks.ts';
import { ErrorNote } from './ui.tsx';
import './notifications-menu.css';

const shown = 20;

/**
 * The header's notifications: a button with the unread count that opens the newest ones (a run
 * finished or failed, a trigger paused itself), each linking to its session or trigger. It follows
 * the user's `notifications` topic, so a new one appears and counts at once. Following a link
 * marks that one read; "Mark all read" clears the count.
 */
export function NotificationsMenu() {
  const list = useResource((signal) => api('GET', '/v1/notifications', { query: { limit: shown }, signal }), []);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<unknown>();
  const panel = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);

  useTopic('notifications', (frame) => {
    if (frame.event !== 'notification.created') return;
    const { notificationId, kind, title, body, data } = frame.data;
    list.set((current) => {
      if (!current || current.notifications.some((n) => n.id === notificationId)) return current;
      const added: Notification = { id: notificationId, kind, title, body, data, read: false, createdAt: frame.at };
      return { notifications: [added, ...current.notifications].slice(0, shown), unread: current.unread + 1 };
    });
  });

  // Escape or a click elsewhere closes the list; focus goes back to the button.
  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return;
      setOpen(false);
      button.current?.focus();
    };
    const onClick = (event: MouseEvent) => {
      const target = event.target as Node;
      if (!panel.current?.contains(target) && !button.current?.contains(target)) setOpen(false);
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('click', onClick);
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('click', onClick);
    };
  }, [open]);

  const markRead = async (ids?: string[]) => {
    setError(undefined);
    try {
      await api('POST', '/v1/notifications/read', { body: ids ? { ids } : {} });
      list.set(
        (current) =>
          current && {
            notifications: current.notifications.map((n) => (!ids || ids.includes(n.id) ? { ...n, read: true } : n)),
            unread: ids ? Math.max(0, current.unread - current.notifications.filter((n) => ids.includes(n.id) && !n.read).length) : 0,
          },
      );
    } catch (failure) {
      setError(failure);
    }
  };

  const unread = list.data?.unread ?? 0;
  return (
    <div class="notifications">
      <button
        ref={button}
        type="button"
        class="link-button notifications-button"
        aria-expanded={open}
        aria-controls="notifications-panel"
        onClick={() => setOpen((o) => !o)}
      >
        Notifications
        <span class={`notifications-count${unread > 0 ? ' has-unread' : ''}`} aria-live="polite">
          <span class="visually-hidden">, </span>
          {unread}
          <span class="visually-hidden"> unread</span>
        </span>
      </button>
      {open && (
        <div ref={panel} id="notifications-panel" class="notifications-panel card" role="region" aria-label="Notifications">
          <div class="row spread">
            <h2 class="card-title">Notifications</h2>
            <button type="button" class="link-button" disabled={unread === 0} onClick={() => void markRead()}>
              Mark all read
            </button>
          </div>
          <ErrorNote error={error ?? list.error} />
          {list.data?.notifications.length === 0 && <p class="muted">Nothing yet. Runs of your triggers report here.</p>}
          <ul class="notifications-list">
            {list.data?.notifications.map((notification) => (
              <NotificationItem key={notification.id} notification={notification} onRead={() => void markRead([notification.id])} />
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

function NotificationItem({ notification, onRead }: { notification: Notification; onRead: () => void }) {
  const { sessionId, triggerId } = notification.data;
  const href = sessionId ? `/chat/${sessionId}` : triggerId ? `/triggers#trigger-${triggerId}` : undefined;
  return (
    <li class={`notification${notification.read ? '' : ' unread'}`} data-kind={notification.kind}>
      <div class="row spread">
        <strong>
          {!notification.read && <span class="visually-hidden">Unread: </span>}
          {href ? (
            <a href={href} onClick={onRead}>
              {notification.title}
            </a>
          ) : (
            notification.title
          )}
        </strong>
        <span class="muted">{formatAgo(notification.createdAt)}</span>
      </div>
      {notification.body && <p class="notification-body">{notification.body}</p>}
      {!notification.read && (
        <button type="button" class="link-button" onClick={onRead}>
          Mark read<span class="visually-hidden">: {notification.title}</span>
        </button>
      )}
    </li>
  );
}
