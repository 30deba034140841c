import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso/router';
import { api, type Answer } from '../api.ts';
import { ChatComposer } from './chat-composer.tsx';
import { ActionButton } from './ui.tsx';

type ChatAnswer = Answer<'POST', '/v1/chat'>;

/**
 * A first message with no session yet: a workflow that matches it confidently starts straight
 * away; otherwise the closest workflows are suggested, or the message starts a plain chat with the
 * user's default agent.
 */
export function ChatStart({ onStarted }: { onStarted: () => void }) {
  const { route } = useLocation();
  const [pending, setPending] = useState<{ message: string; answer: ChatAnswer }>();

  const ask = async (message: string) => {
    const answer = await api('POST', '/v1/chat', { body: { message } });
    if (answer.executed && answer.sessionId) {
      onStarted();
      route(`/chat/${answer.sessionId}`);
    } else {
      setPending({ message, answer });
    }
  };
  const plainChat = async (message: string) => {
    const { session } = await api('POST', '/v1/sessions', { body: {} });
    // A session started without a template is created with its conversation.
    await api('POST', '/v1/conversations/{id}/messages', { params: { id: session.conversationId! }, body: { content: message } });
    onStarted();
    route(`/chat/${session.id}`);
  };

  return (
    <>
      <h1>Chat</h1>
      <p>
        Say what you need. A matching workflow starts by itself; anything else goes to your default agent. Or pick a session, or run an
        agent from the <a href="/agents">gallery</a>.
      </p>
      {!pending && <ChatComposer disabled={false} onSend={ask} initial="" />}
      {pending && (
        <NoMatch
          message={pending.message}
          answer={pending.answer}
          onPlainChat={() => plainChat(pending.message)}
          onBack={() => setPending(undefined)}
        />
      )}
    </>
  );
}

function NoMatch({
  message,
  answer,
  onPlainChat,
  onBack,
}: {
  message: string;
  answer: ChatAnswer;
  onPlainChat: () => Promise<void>;
  onBack: () => void;
}) {
  const suggestions = answer.suggestions ?? [];
  return (
    <div class="card stack" role="status">
      <p class="user-text">“{message}”</p>
      {answer.missingIntegrations?.length ? (
        <p>
          The matching workflow needs {answer.missingIntegrations.join(', ')}. <a href="/integrations">Connect it</a>, then send the message
          again.
        </p>
      ) : null}
      {answer.missingVariables?.length ? (
        <p>
          The matching workflow needs more to go on: {answer.missingVariables.map((variable) => variable.name).join(', ')}. Run it from the{' '}
          <a href="/agents">gallery</a> to fill them in.
        </p>
      ) : null}
      {suggestions.length > 0 && (
        <>
          <p>Workflows that come close:</p>
          <ul class="list">
            {suggestions.map((suggestion) => (
              <li key={suggestion.templateId}>
                <a href="/agents">{suggestion.name}</a>{' '}
                <span class="muted">
                  {Math.round(suggestion.confidence * 100)}% match{suggestion.available ? '' : ' · needs an integration'}
                </span>
              </li>
            ))}
          </ul>
        </>
      )}
      <div class="row">
        <ActionButton class="primary" onAction={onPlainChat}>
          Send it to my agent
        </ActionButton>
        <button type="button" onClick={onBack}>
          Write something else
        </button>
      </div>
    </div>
  );
}
