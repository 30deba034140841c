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
 * integrations, or a small form for those that take an API key or the user's own MCP server URL.
 */
export function IntegrationConnect({ integration, onConnected }: { integration: Integration; onConnected: () => void }) {
  const [open, setOpen] = useState(false);
  const needsForm = integration.authType === 'api_key' || integration.userSuppliedUrl;
  if (!integration.available) {
    return (
      <button type="button" disabled aria-label={`Connect ${integration.name}`}>
        Connect
      </button>
    );
  }
  if (!needsForm) {
    return (
      <ActionButton class="primary" label={`Connect ${integration.name}`} onAction={() => connect(integration, {}, onConnected)}>
        Connect
      </ActionButton>
    );
  }
  if (!open) {
    return (
      <button type="button" class="primary" aria-label={`Connect ${integration.name}`} onClick={() => setOpen(true)}>
        Connect
      </button>
    );
  }
  return <CredentialsForm integration={integration} onCancel={() => setOpen(false)} onConnected={onConnected} />;
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
  const form = useRef<HTMLFormElement>(null);
  // Opened by the keyboard or a click: the first field takes the focus, so typing can start.
  useEffect(() => form.current?.querySelector('input')?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    await run(() =>
      connect(
        integration,
        {
          ...(integration.authType === 'api_key' ? { apiKey: apiKey.trim() } : {}),
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
      {integration.authType === 'api_key' && (
        <div class="field">
          <label for={`${id}-key`}>API key</label>
          <input
            id={`${id}-key`}
            type="password"
            autocomplete="off"
            spellcheck={false}
            required
            aria-describedby={`${id}-key-hint`}
            value={apiKey}
            onInput={(e) => setApiKey(e.currentTarget.value)}
          />
          <span class="hint" id={`${id}-key-hint`}>
            Stored encrypted on the server and never shown again.
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
