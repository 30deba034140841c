import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { ApiToken } from '../api-shapes.ts';
import { formatTime } from '../format.ts';
import { useAction, useResource } from '../hooks.ts';
import { ActionButton, Empty, ErrorNote, Loading } from './ui.tsx';

function revokeWarning(token: ApiToken): string {
  if (token.current) return `"${token.name}" is this browser's sign-in: revoking it signs you out here. Revoke it?`;
  return `Revoke "${token.name}"? Anything using it stops working at once.`;
}

/**
 * The user's API tokens: a new one's secret is shown once, held only in this component's memory,
 * and gone when the user closes the notice or leaves the page. The list shows prefixes only.
 */
export function SettingsTokens() {
  const tokens = useResource((signal) => api('GET', '/v1/tokens', { signal }).then((answer) => answer.tokens), []);
  const [created, setCreated] = useState<{ name: string; secret: string }>();

  return (
    <div class="stack settings-block">
      {created ? <NewTokenNotice name={created.name} secret={created.secret} onDone={() => setCreated(undefined)} /> : null}
      <CreateTokenForm
        onCreated={(name, secret) => {
          setCreated({ name, secret });
          tokens.reload();
        }}
      />
      <ErrorNote error={tokens.error} />
      {tokens.loading && !tokens.data ? <Loading label="Loading tokens…" /> : null}
      {tokens.data?.length === 0 ? <Empty>You have no API tokens.</Empty> : null}
      {tokens.data && tokens.data.length > 0 ? (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Your API tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Starts with</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.map((token) => (
                <tr key={token.id}>
                  <td>{token.name}</td>
                  <td>
                    <code>{token.prefix}…</code>
                  </td>
                  <td>{formatTime(token.createdAt)}</td>
                  <td>{token.expiresAt ? formatTime(token.expiresAt) : 'Never'}</td>
                  <td>{token.lastUsedAt ? formatTime(token.lastUsedAt) : 'Never'}</td>
                  <td>
                    <ActionButton
                      class="danger"
                      label={`Revoke ${token.name}`}
                      confirm={revokeWarning(token)}
                      onAction={async () => {
                        await api('DELETE', '/v1/tokens/{id}', { params: { id: token.id } });
                        tokens.set((list) => list?.filter((t) => t.id !== token.id));
                      }}
                    >
                      Revoke
                    </ActionButton>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}

function CreateTokenForm({ onCreated }: { onCreated: (name: string, secret: string) => void }) {
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const { busy, error, run } = useAction();

  const create = async (event: Event) => {
    event.preventDefault();
    await run(async () => {
      const body = { name: name.trim(), ...(days.trim() ? { expiresInDays: Number(days) } : {}) };
      const answer = await api('POST', '/v1/tokens', { body });
      setName('');
      setDays('');
      onCreated(answer.info.name, answer.token);
    });
  };

  return (
    <form class="card settings-form" onSubmit={create} aria-labelledby="token-create-heading">
      <h3 id="token-create-heading">Create a token</h3>
      <div class="settings-inline">
        <div class="field">
          <label for="token-name">Token name</label>
          <input id="token-name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="token-days">Expires after (days)</label>
          <input
            id="token-days"
            type="number"
            min={1}
            max={3650}
            step={1}
            inputMode="numeric"
            aria-describedby="token-days-hint"
            value={days}
            onInput={(e) => setDays(e.currentTarget.value)}
          />
          <p class="hint" id="token-days-hint">
            Leave empty for a token that does not expire.
          </p>
        </div>
      </div>
      <button type="submit" class="primary" disabled={busy || name.trim() === ''}>
        {busy ? 'Creating…' : 'Create token'}
      </button>
      <ErrorNote error={error} />
    </form>
  );
}

/** The one time a token's secret is shown; it is never kept beyond this notice. */
function NewTokenNotice({ name, secret, onDone }: { name: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState<'yes' | 'failed'>();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <div class="card settings-secret" role="region" aria-labelledby="token-secret-heading">
      <h3 id="token-secret-heading">Token "{name}" created</h3>
      <label for="token-secret">Your new token</label>
      <div class="row settings-secret-row">
        <input
          id="token-secret"
          readOnly
          spellcheck={false}
          autocomplete="off"
          value={secret}
          onFocus={(e) => e.currentTarget.select()}
          aria-describedby="token-secret-note"
        />
        <button type="button" onClick={copy}>
          Copy
        </button>
      </div>
      <p id="token-secret-note" class="hint">
        Copy it now and keep it somewhere safe: it will not be shown again.
      </p>
      <p role="status" class="settings-saved">
        {copied === 'yes'
          ? 'Copied'
          : copied === 'failed'
            ? 'Copying was refused by the browser; select the token and copy it yourself.'
            : ''}
      </p>
      <button type="button" onClick={onDone}>
        Done
      </button>
    </div>
  );
}
