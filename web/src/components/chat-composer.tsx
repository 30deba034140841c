import { useEffect, useState } from 'preact/hooks';
import { ErrorNote } from './ui.tsx';

/** The message box: Enter sends, Shift+Enter starts a new line; a failed send keeps the text. */
export function ChatComposer({ disabled, onSend, initial }: { disabled: boolean; onSend: (content: string) => Promise<void>; initial: string }) {
  const [text, setText] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    if (initial) setText((current) => current || initial);
  }, [initial]);

  const submit = async (event?: Event) => {
    event?.preventDefault();
    const content = text.trim();
    if (!content || disabled || busy) return;
    setBusy(true);
    setError(undefined);
    try {
      await onSend(content);
      setText('');
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="composer" onSubmit={submit}>
      <label for="message" class="visually-hidden">
        Message
      </label>
      <textarea
        id="message"
        rows={3}
        value={text}
        placeholder="Write a message…"
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) void submit(e);
        }}
      />
      <div class="row spread">
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={disabled || busy || text.trim() === ''}>
          Send
        </button>
      </div>
    </form>
  );
}
