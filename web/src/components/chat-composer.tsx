import { useEffect, useState } from 'preact/hooks';
import { useAction } from '../hooks.ts';
import { ErrorNote } from './ui.tsx';

/** The message box: Enter sends, Shift+Enter starts a new line; a failed send keeps the text. */
export function ChatComposer({
  disabled,
  onSend,
  initial,
}: {
  disabled: boolean;
  onSend: (content: string) => Promise<void>;
  initial: string;
}) {
  const [text, setText] = useState(initial);
  const { busy, error, run } = useAction();
  useEffect(() => {
    if (initial) setText((current) => current || initial);
  }, [initial]);

  const submit = async (event?: Event) => {
    event?.preventDefault();
    const content = text.trim();
    if (!content || disabled || busy) return;
    await run(async () => {
      await onSend(content);
      setText('');
    });
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
