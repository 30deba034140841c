import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { ConsoleSession } from '../api-shapes.ts';
import { ErrorNote } from '../components/ui.tsx';
import { useAction, useTitle } from '../hooks.ts';

/**
 * Sign-in: an API token is pasted once and traded for a session cookie the page's scripts cannot
 * read; the token itself is not kept anywhere in the browser.
 */
export function SignInPage({ onSignedIn }: { onSignedIn: (session: ConsoleSession) => void }) {
  useTitle('Sign in');
  const [token, setToken] = useState('');
  const { busy, error, run } = useAction();

  const submit = async (event: Event) => {
    event.preventDefault();
    await run(async () => {
      const session = await api('POST', '/v1/console/sign-in', { body: { token: token.trim() } });
      setToken('');
      onSignedIn(session);
    });
  };

  return (
    <main id="main" class="sign-in">
      <h1>Sign in to Agentry</h1>
      <form onSubmit={submit} class="stack">
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
        <p class="hint" id="token-hint">
          Paste a token that starts with <code>agt_</code>. The server's first start prints the admin's;{' '}
          <code>npm run agentry -- users token --email …</code> issues a new one. It is exchanged for a session cookie, and the token itself
          is not kept in this browser.
        </p>
        <button type="submit" class="primary" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <ErrorNote error={error} />
      </form>
    </main>
  );
}
