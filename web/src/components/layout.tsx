import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { useLocation } from 'preact-iso/router';
import { useLiveState } from '../hooks.ts';
import type { Me } from '../api-shapes.ts';
import { ApprovalBadge } from './approval-badge.tsx';
import { ModelHealthBanner } from './model-health-banner.tsx';
import { NotificationsMenu } from './notifications-menu.tsx';
import { ActionButton } from './ui.tsx';

const pages = [
  { href: '/agents', label: 'Agents' },
  { href: '/chat', label: 'Chat' },
  { href: '/sessions', label: 'Sessions' },
  { href: '/triggers', label: 'Triggers' },
  { href: '/integrations', label: 'Integrations' },
  { href: '/knowledge', label: 'Knowledge' },
  { href: '/settings', label: 'Settings' },
];

const liveLabels = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  'too-many': 'Too many tabs open',
  refused: 'Offline',
} as const;

/** The frame of every page: a skip link, the navigation, the live-connection state, sign-out, and a banner while a model is down. */
export function Layout({ user, onSignOut, children }: { user: Me; onSignOut: () => Promise<void>; children: ComponentChildren }) {
  const { path } = useLocation();
  const liveState = useLiveState();
  // After a move to another page, focus starts at its content (and a screen reader reads its title).
  // A layout effect, so the focus moves in the same frame as the page, not a frame after it.
  const first = useRef(true);
  useLayoutEffect(() => {
    if (first.current) first.current = false;
    else document.getElementById('main')?.focus();
  }, [path]);
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/agents">
          Agentry
        </a>
        <nav aria-label="Main">
          <ul>
            {pages.map((page) => (
              <li key={page.href}>
                <a href={page.href} aria-current={path === page.href || path.startsWith(`${page.href}/`) ? 'page' : undefined}>
                  {page.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="account">
          <ApprovalBadge />
          <span class={`live live-${liveState}`} role="status" aria-live="polite" title="Live updates">
            {liveLabels[liveState]}
          </span>
          <NotificationsMenu />
          <span class="who" title={user.email}>
            {user.name || user.email}
          </span>
          <ActionButton class="link-button" onAction={onSignOut}>
            Sign out
          </ActionButton>
        </div>
      </header>
      <ModelHealthBanner />
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
