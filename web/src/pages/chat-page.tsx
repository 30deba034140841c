import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso/router';
import { api } from '../api.ts';
import { ChatStart } from '../components/chat-start.tsx';
import { SessionChat } from '../components/session-chat.tsx';
import { ActionButton, Empty, ErrorNote, Loading, StatusChip } from '../components/ui.tsx';
import { formatAgo } from '../format.ts';
import { useResource, useTitle } from '../hooks.ts';
import { loadNames, sessionTitle } from '../session-names.ts';

/**
 * Chat: the user's sessions on the side, one session's conversation in the middle. A new chat is
 * a session with the user's default agent.
 */
export function ChatPage({ sessionId }: { sessionId?: string }) {
  useTitle('Chat');
  const { route, query } = useLocation();
  const sessions = useResource((signal) => api('GET', '/v1/sessions', { query: { limit: 30 }, signal }).then((r) => r.sessions), []);
  const names = useResource(loadNames, []);
  const [statuses, setStatuses] = useState<Record<string, string>>({});

  const newChat = async () => {
    const { session } = await api('POST', '/v1/sessions', { body: {} });
    sessions.reload();
    route(`/chat/${session.id}`);
  };

  return (
    <div class="chat-layout">
      <aside class="chat-sessions" aria-label="Sessions">
        <div class="row spread">
          <h2 class="sidebar-title">Sessions</h2>
          <ActionButton onAction={newChat}>New chat</ActionButton>
        </div>
        <ErrorNote error={sessions.error} />
        {sessions.loading && !sessions.data && <Loading />}
        <ul class="list session-links">
          {sessions.data?.map((session) => (
            <li key={session.id}>
              <a href={`/chat/${session.id}`} aria-current={session.id === sessionId ? 'page' : undefined}>
                <span class="session-link-title">{sessionTitle(session, names.data)}</span>
                <span class="row">
                  <StatusChip status={statuses[session.id] ?? session.status} />
                  <span class="muted">{formatAgo(session.lastActiveAt)}</span>
                </span>
              </a>
            </li>
          ))}
        </ul>
        {sessions.data?.length === 0 && <Empty>No sessions yet.</Empty>}
      </aside>
      <section class="chat-main" aria-label="Conversation">
        {sessionId ? (
          <SessionChat
            key={`${sessionId}/${query.conversation ?? ''}`}
            sessionId={sessionId}
            names={names.data}
            onStatus={(status) => setStatuses((current) => ({ ...current, [sessionId]: status }))}
          />
        ) : (
          <ChatStart onStarted={sessions.reload} />
        )}
      </section>
    </div>
  );
}
