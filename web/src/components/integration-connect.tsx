import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';
import type { Integration } from '../api-shapes.ts';
import { useAction } from '../hooks.ts';
import { ActionButton, ErrorNote } from './ui.tsx';

/**
 * Starts connecting. An OAuth integration answers with the provider's page: the browser goes
 * there (the server set the cookie that binds the callback to this browser) and comes back to
 * `/integrations?connected=…`. Others are connected when this resolves.
 */
async function connect(integration: Integration, body: { apiKey?: string; mcpUrl?: string }, onConnected: () => void): Promise<void> {
  const answer = await api('POST', '/v1/integrations/{provider}/connect', { params: { provider: integration.provider }, body });
  if (!('authorizationUrl' in answer)) return onConnected();
  // Only a web address: the page never follows a `javascript:` or other scheme it was handed.
  const target = new URL(answer.authorizationUrl);
  if (target.protocol !== 'https:' && target.protocol !== 'http:')
    throw new ApiError(0, 'BAD_REDIRECT', `${integration.name} gave an address this page will not open.`);
  window.location.assign(target.href);
}

/**
 * The Connect control of an integration that is not connected: one button for OAuth and keyless
 * integrations, a small form for those that take a key or the user's own MCP server URL, and both
 * where an integration takes a key beside signing in (the key works when signing in is not set up).
 */
export function IntegrationConnect({ integration, onConnected }: { integration: Integration; onConnected: () => void }) {
  const [open, setOpen] = useState(false);
  const signIn = integration.methods.find((m) => m.type === 'oauth2');
  const key = integration.methods.find((m) => m.type === 'api_key');
  const byKey = integration.authType === 'api_key' || integration.userSuppliedUrl;
  if (!integration.available) {
    return (
      <button type="button" disabled aria-label={`Connect ${integration.name}`}>
        Connect
      </button>
    );
  }
  if (open) return <CredentialsForm integration={integration} onCancel={() => setOpen(false)} onConnected={onConnected} />;
  if (byKey) {
    return (
      <button type="button" class="primary" aria-label={`Connect ${integration.name}`} onClick={() => setOpen(true)}>
        Connect
      </button>
    );
  }
  return (
    <>
      {signIn && !signIn.available && key?.available && (
        <p class="muted">Signing in is not set up on this installation; you can connect with a key.</p>
      )}
      <div class="row">
        {(!signIn || signIn.available) && (
          <ActionButton class="primary" label={`Connect ${integration.name}`} onAction={() => connect(integration, {}, onConnected)}>
            {key?.available ? 'Sign in' : 'Connect'}
          </ActionButton>
        )}
        {key?.available && (
          <button
            type="button"
            class={signIn?.available ? undefined : 'primary'}
            aria-label={`Use a key for ${integration.name}`}
            onClick={() => setOpen(true)}
          >
            Use a key
          </button>
        )}
      </div>
    </>
  );
}

/**
 * For a connection made with a key: the key is never shown, only that there is one, and a form to
 * put a new one in its place (checked like the first; the old one stays until the new one is accepted).
 */
export function ReplaceKey({ integration, onReplaced }: { integration: Integration; onReplaced: () => void }) {
  const [open, setOpen] = useState(false);
  if (!open)
    return (
      <button type="button" aria-label={`Replace key for ${integration.name}`} onClick={() => setOpen(true)}>
        Replace key
      </button>
    );
  return (
    <CredentialsForm
      integration={integration}
      onCancel={() => setOpen(false)}
      onConnected={() => {
        setOpen(false);
        onReplaced();
      }}
    />
  );
}

function CredentialsForm({
  integration,
  onCancel,
  onConnected,
}: {
  integration: Integration;
  onCancel: () => void;
  onConnected: () => void;
}) {
  const [apiKey, setApiKey] = useState('');
  const [mcpUrl, setMcpUrl] = useState('');
  const { busy, error, run } = useAction();
  const id = `connect-${integration.provider}`;
  const key = integration.apiKey;
  // A user-supplied MCP server without a key to ask for (keyless) shows only its URL field.
  const asksKey = key !== null;
  const form = useRef<HTMLFormElement>(null);
  // Opened by the keyboard or a click: the first field takes the focus, so typing can start.
  useEffect(() => form.current?.querySelector('input')?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    await run(() =>
      connect(
        integration,
        {
          ...(asksKey ? { apiKey: apiKey.trim() } : {}),
          ...(integration.userSuppliedUrl ? { mcpUrl: mcpUrl.trim() } : {}),
        },
        onConnected,
      ),
    );
  };

  return (
    <form ref={form} class="integration-form" onSubmit={submit} aria-label={`Connect ${integration.name}`}>
      {integration.userSuppliedUrl && (
        <div class="field">
          <label for={`${id}-url`}>MCP server URL</label>
          <input
            id={`${id}-url`}
            type="url"
            inputMode="url"
            autocomplete="off"
            spellcheck={false}
            required
            value={mcpUrl}
            onInput={(e) => setMcpUrl(e.currentTarget.value)}
          />
        </div>
      )}
      {asksKey && (
        <div class="field">
          <label for={`${id}-key`}>{key.label}</label>
          <input
            id={`${id}-key`}
            type="password"
            autocomplete="off"
            spellcheck={false}
            required
            maxLength={1024}
            aria-describedby={`${id}-key-hint`}
            value={apiKey}
            onInput={(e) => setApiKey(e.currentTarget.value)}
          />
          <span class="hint" id={`${id}-key-hint`}>
            {key.help && <>{key.help} </>}
            {key.docs && /^https?:\/\//i.test(key.docs) && (
              <>
                <a href={key.docs} target="_blank" rel="noopener noreferrer">
                  How to make one<span class="visually-hidden"> (opens in a new tab)</span>
                </a>{' '}
              </>
            )}
            It is checked with {integration.name} first, then stored encrypted on the server and never shown again.
          </span>
        </div>
      )}
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Connecting…' : 'Connect'}
        </button>
        <button type="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
      <ErrorNote error={error} />
    </form>
  );
}
