import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso/router';
// The tool-pattern grammar is the server's own: a pure module, shared rather than copied. Imported by
// path rather than through tools/index.ts to keep the bundle small; eslint.config.js allows exactly this.
import { patternReachesProvider } from '../../../backend/src/tools/tool-pattern.ts';
import { api } from '../api.ts';
import type { Integration, Message, SessionDetail } from '../api-shapes.ts';
import { applyEvent, idleTurn, type LiveTurn } from '../chat-state.ts';
import { formatCost, formatNumber } from '../format.ts';
import { useResource, useTitle, useTopic } from '../hooks.ts';
import { connectionEvents, loadIntegrations, providerName } from '../integration-names.ts';
import type { EventFrame } from '../live.ts';
import { sessionTitle, type Names } from '../session-names.ts';
import { ApprovalCards } from './approval-card.tsx';
import { ChatComposer } from './chat-composer.tsx';
import { ChatTranscript } from './chat-transcript.tsx';
import { ActionButton, ErrorNote, Loading, StatusChip } from './ui.tsx';

const maxMessages = 2000;

/** A conversation's whole transcript, page by page. */
async function loadTranscript(conversationId: string, signal: AbortSignal): Promise<Message[]> {
  const messages: Message[] = [];
  let after: number | undefined;
  do {
    const page = await api('GET', '/v1/conversations/{id}/messages', {
      params: { id: conversationId },
      query: { limit: 200, after },
      signal,
    });
    messages.push(...page.messages);
    if (page.next === null) break;
    after = page.next;
  } while (messages.length < maxMessages);
  return messages;
}

/**
 * Where the session's event stream should start so that a turn in progress is shown whole: just
 * before the first event since the last message the user sent (earlier turns are in the
 * transcript). Nothing since then: follow from now.
 */
async function syncPoint(sessionId: string, transcript: Message[], signal: AbortSignal): Promise<number | undefined> {
  const lastSent = transcript.findLast((message) => message.role === 'user');
  if (!lastSent) return 0;
  const since = new Date(new Date(lastSent.createdAt).getTime() - 2000).toISOString();
  const { events } = await api('GET', '/v1/events', { query: { topic: `session:${sessionId}`, since, limit: 1 }, signal });
  return events[0] ? events[0].id - 1 : undefined;
}

/** Whether the session's patterns (`*__*`, `provider__*`, `provider__tool`) reach a provider's tools. */
function reaches(patterns: string[], provider: string): boolean {
  return patterns.some((pattern) => patternReachesProvider(pattern, provider));
}

/** One session's chat: its state and controls, the conversation as it streams, and the composer. */
export function SessionChat({
  sessionId,
  names,
  onStatus,
}: {
  sessionId: string;
  names: Names | undefined;
  onStatus: (status: string) => void;
}) {
  const { query: params, route } = useLocation();
  const session = useResource(
    (signal) => api('GET', '/v1/sessions/{id}', { params: { id: sessionId }, signal }).then((r) => r.session),
    [sessionId],
  );
  const conversations = useResource(
    (signal) => api('GET', '/v1/sessions/{id}/conversations', { params: { id: sessionId }, signal }).then((r) => r.conversations),
    [sessionId],
  );
  const integrations = useResource(loadIntegrations, []);
  const conversationId = params.conversation ?? session.data?.conversationId ?? undefined;
  const transcript = useResource(
    (signal) => (conversationId ? loadTranscript(conversationId, signal) : Promise.resolve([])),
    [conversationId],
  );
  const [turn, setTurn] = useState<LiveTurn>(idleTurn);
  const [since, setSince] = useState<number | undefined | 'pending'>('pending');
  const [syncError, setSyncError] = useState<unknown>();
  const [approvals, setApprovals] = useState(0);
  // Calls of this session awaiting the user's approval: its turn waits for them, not for the agent.
  const [waiting, setWaiting] = useState(0);
  const title = session.data ? sessionTitle(session.data, names) : 'Chat';
  useTitle(title);

  // Once the session and its transcript are first loaded: whether a turn is under way (the server
  // says), and where the live stream starts.
  const loaded = transcript.data !== undefined && session.data !== undefined;
  useEffect(() => {
    if (!loaded || since !== 'pending') return;
    const controller = new AbortController();
    const messages = transcript.data ?? [];
    // A turn awaiting approval is under way too: it goes on once its calls are decided.
    const active = session.data?.activeTurn?.status;
    setTurn((current) => ({ ...current, running: active === 'running' || active === 'awaiting_approval' }));
    syncPoint(sessionId, messages, controller.signal).then(setSince, (error: unknown) => {
      if (controller.signal.aborted) return;
      setSyncError(error);
      setSince(undefined);
    });
    return () => controller.abort();
  }, [loaded]);

  // Once no turn runs, the reloaded transcript holds all of the last one: what streamed goes, even
  // text that a restart cut off and the resumed turn wrote again.
  useEffect(() => {
    setTurn((current) => (current.running ? current : { ...idleTurn, ...(current.ended ? { ended: current.ended } : {}) }));
  }, [transcript.data]);

  useTopic(
    since === 'pending' ? undefined : `session:${sessionId}`,
    (frame: EventFrame) => {
      if (frame.event === 'session.status_changed') {
        // The event carries the status as text; a session's statuses are the API's.
        const status = frame.data.to as SessionDetail['status'];
        session.set((current) => current && { ...current, status });
        onStatus(status);
      } else if (frame.event === 'tools.changed') {
        integrations.reload();
      } else if (frame.event === 'tool.approval_requested' || frame.event === 'tool.approval_decided') {
        setApprovals((n) => n + 1);
      } else if (frame.event === 'turn.ended') {
        setTurn((current) => applyEvent(current, frame));
        transcript.reload();
        session.reload();
      } else {
        setTurn((current) => applyEvent(current, frame));
      }
    },
    since === 'pending' ? undefined : since,
  );
  useTopic('integrations', (frame) => connectionEvents.has(frame.event) && integrations.reload());

  // Running from the moment of sending: the turn's end may arrive before the answer to the send.
  const send = async (content: string) => {
    if (!conversationId) return;
    setTurn((current) => {
      const { ended: _ended, ...rest } = current;
      return { ...rest, running: true };
    });
    try {
      await api('POST', '/v1/conversations/{id}/messages', { params: { id: conversationId }, body: { content } });
    } catch (error) {
      setTurn((current) => ({ ...current, running: false }));
      throw error;
    }
    transcript.reload();
  };
  const changeStatus = async (status: 'paused' | 'running') => {
    const { session: changed } = await api('POST', '/v1/sessions/{id}/status', { params: { id: sessionId }, body: { status } });
    session.set((current) => current && { ...current, ...changed });
    onStatus(changed.status);
  };
  const cancel = () => api('POST', '/v1/sessions/{id}/cancel', { params: { id: sessionId } });

  const current = session.data;
  if (!current) return session.error ? <ErrorNote error={session.error} /> : <Loading />;
  const reachable = (integrations.data ?? []).filter(
    (integration) => integration.available && reaches(current.tools, integration.provider),
  );
  const counters = current.counters;
  const canSend = current.status === 'running' && !turn.running;

  return (
    <>
      <header class="chat-header">
        <div class="row spread">
          <h1>{title}</h1>
          <StatusChip status={current.status} />
        </div>
        <IntegrationChips integrations={reachable} />
        <p class="usage muted" aria-label="Session usage">
          {formatNumber(counters.inputTokens)} tokens in · {formatNumber(counters.outputTokens)} out ·{' '}
          {formatCost(counters.costUsd, { estimated: counters.costEstimated })} · {formatNumber(counters.toolCalls)} tool calls
        </p>
        <div class="row" role="group" aria-label="Session controls">
          {current.status === 'running' && <ActionButton onAction={() => changeStatus('paused')}>Pause</ActionButton>}
          {current.status === 'paused' && current.activeTurn?.status !== 'suspended' && (
            <ActionButton onAction={() => changeStatus('running')}>Resume</ActionButton>
          )}
          {turn.running && (
            <ActionButton onAction={cancel} class="danger">
              Cancel turn
            </ActionButton>
          )}
        </div>
        {(conversations.data?.length ?? 0) > 1 && (
          <nav aria-label="Conversations" class="row">
            {conversations.data!.map((conversation) => (
              <a
                key={conversation.id}
                href={`/chat/${sessionId}?conversation=${conversation.id}`}
                aria-current={conversation.id === conversationId ? 'page' : undefined}
              >
                {conversation.title || 'Conversation'}
              </a>
            ))}
          </nav>
        )}
      </header>
      <ErrorNote error={session.error ?? transcript.error ?? syncError} />
      {current.activeTurn?.status === 'suspended' && (
        <ResolvePanel sessionId={sessionId} lastError={current.lastError} onResolved={() => session.reload()} />
      )}
      {transcript.data && <ChatTranscript messages={transcript.data} turn={turn} />}
      <ApprovalCards
        sessionId={sessionId}
        version={approvals}
        names={(provider) => providerName(integrations.data, provider)}
        onPending={setWaiting}
      />
      <p class="turn-state muted" role="status" aria-live="polite">
        {waiting > 0 && current.status === 'running'
          ? `The agent waits for your approval of ${waiting === 1 ? 'a tool call' : `${waiting} tool calls`}.`
          : turn.running
            ? 'The agent is working…'
            : turn.ended
              ? `The last turn ended: ${turn.ended.error?.message ?? turn.ended.status.replace('_', ' ')}.`
              : ''}
      </p>
      {current.status === 'paused' && <p class="muted">The session is paused. Resume it to continue.</p>}
      {(current.status === 'completed' || current.status === 'failed') && (
        <p class="muted">
          This session has {current.status === 'completed' ? 'completed' : 'failed'}. <a href="/sessions">Restore it from a checkpoint</a>{' '}
          or{' '}
          <button type="button" class="link-button" onClick={() => route('/chat')}>
            start a new chat
          </button>
          .
        </p>
      )}
      <ChatComposer
        disabled={!canSend || !conversationId}
        onSend={send}
        initial={transcript.data?.length === 0 ? (current.userPrompt ?? '') : ''}
      />
    </>
  );
}

/**
 * A turn a crash interrupted during a tool call that may or may not have had its effect: the
 * user decides to run it again, to skip it (the agent reads their note), or to fail the session.
 */
function ResolvePanel({ sessionId, lastError, onResolved }: { sessionId: string; lastError: unknown; onResolved: () => void }) {
  const [note, setNote] = useState('');
  const resolve = async (action: 'retry' | 'skip' | 'fail') => {
    await api('POST', '/v1/sessions/{id}/resolve', {
      params: { id: sessionId },
      body: { action, ...(note.trim() ? { note: note.trim() } : {}) },
    });
    onResolved();
  };
  const message = (lastError as { message?: string } | null)?.message;
  return (
    <div class="card stack resolve" role="region" aria-label="A decision is needed">
      <p>
        <strong>A tool call was interrupted and may or may not have had its effect.</strong> {message}
      </p>
      <label for="resolve-note">Note for the agent (when skipping)</label>
      <textarea id="resolve-note" rows={2} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
      <div class="row">
        <ActionButton onAction={() => resolve('retry')}>Run it again</ActionButton>
        <ActionButton onAction={() => resolve('skip')}>Skip it</ActionButton>
        <ActionButton class="danger" onAction={() => resolve('fail')} confirm="Fail the session? It stops here.">
          Fail the session
        </ActionButton>
      </div>
    </div>
  );
}

/** The integrations the session can use, each with its connection's live status. */
function IntegrationChips({ integrations }: { integrations: Integration[] }) {
  if (integrations.length === 0) return null;
  return (
    <ul class="chips" aria-label="Integrations this session can use">
      {integrations.map((integration) => {
        const status = integration.connection?.status ?? 'disconnected';
        return (
          <li key={integration.provider}>
            <span
              class={`chip chip-${status === 'connected' ? 'ok' : status === 'degraded' ? 'warn' : status === 'error' ? 'bad' : 'idle'}`}
              data-provider={integration.provider}
              data-status={status}
            >
              {integration.name}: {status === 'disconnected' ? 'not connected' : status}
            </span>
          </li>
        );
      })}
    </ul>
  );
}
