import { useTitle } from '../hooks.ts';

export function ChatPage() {
  useTitle('Chat');
  return (
    <section>
      <h1>Chat</h1>
    </section>
  );
}
