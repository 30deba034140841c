import { api } from '../api.ts';
import type { Connection, DiscoveredTool, Integration } from '../api-shapes.ts';
import { formatAgo, formatTime } from '../format.ts';
import { IntegrationConnect, ReplaceKey } from './integration-connect.tsx';
import { IntegrationToolList } from './integration-tools.tsx';
import { ActionButton, StatusChip } from './ui.tsx';

const docLabels = { oauth: 'OAuth documentation', mcp: 'MCP server documentation' } as const;

/**
 * One catalogue entry as a card: what it is, whether it is connected, and the one thing to do
 * next (connect it, or see its tools and disconnect it). `onChange` runs after this card changed
 * a connection, so the page can load the list again without waiting for the live event.
 */
export function IntegrationCard({
  integration,
  tools,
  onChange,
}: {
  integration: Integration;
  tools: DiscoveredTool[] | undefined;
  onChange: () => void;
}) {
  const { connection } = integration;
  const headingId = `integration-${integration.provider}`;
  return (
    <li class="card integration-card" aria-labelledby={headingId}>
      <div class="row spread">
        <h2 id={headingId} class="card-title">
          {integration.name}
        </h2>
        {connection ? <StatusChip status={connection.status} /> : <StatusChip status="disconnected" label="not connected" />}
      </div>
      {integration.description && <p>{integration.description}</p>}
      <DocLinks integration={integration} />
      {connection ? (
        <ConnectionDetails integration={integration} connection={connection} tools={tools} onChange={onChange} />
      ) : (
        <>
          {!integration.available && (
            <p class="muted">Not available: {integration.unavailableReason ?? 'the administrator has not set it up.'}</p>
          )}
          <IntegrationConnect integration={integration} onConnected={onChange} />
        </>
      )}
    </li>
  );
}

function DocLinks({ integration }: { integration: Integration }) {
  const links = (Object.keys(docLabels) as Array<keyof typeof docLabels>).flatMap((kind) => {
    const href = integration.docs[kind];
    return href && /^https?:\/\//i.test(href) ? [{ kind, href }] : [];
  });
  if (links.length === 0) return null;
  return (
    <ul class="row integration-docs" aria-label={`${integration.name} documentation`}>
      {links.map(({ kind, href }) => (
        <li key={kind}>
          <a href={href} target="_blank" rel="noopener noreferrer">
            {docLabels[kind]}
            <span class="visually-hidden"> (opens in a new tab)</span>
          </a>
        </li>
      ))}
    </ul>
  );
}

function ConnectionDetails({
  integration,
  connection,
  tools,
  onChange,
}: {
  integration: Integration;
  connection: Connection;
  tools: DiscoveredTool[] | undefined;
  onChange: () => void;
}) {
  const disconnect = async () => {
    await api('DELETE', '/v1/integrations/{id}', { params: { id: connection.id } });
    onChange();
  };
  return (
    <>
      <p class="muted">
        Connected{connection.authType === 'api_key' && ' with a key'}{' '}
        <time dateTime={connection.connectedAt} title={formatTime(connection.connectedAt)}>
          {formatAgo(connection.connectedAt)}
        </time>
      </p>
      {connection.lastError && (
        <p class="integration-last-error">
          Last error: {connection.lastError.message} <span class="muted">({connection.lastError.code})</span>
        </p>
      )}
      {integration.standsIn.length > 0 && (
        <p class="muted">
          Stands in for {integration.standsIn.join(', ')}: workflows that need them run on its sample data; your own connection to one of
          them takes its place.
        </p>
      )}
      <IntegrationToolList tools={tools} />
      {connection.authType === 'api_key' && integration.apiKey && <ReplaceKey integration={integration} onReplaced={onChange} />}
      {integration.provider === 'sandbox' && (
        <ActionButton
          label={`Reset ${integration.name}`}
          confirm={`Reset ${integration.name}? Its sample mail, calendar and chat are put back, and what you changed there is lost.`}
          onAction={() => api('POST', '/v1/integrations/sandbox/reset', {}).then(onChange)}
        >
          Reset sample data
        </ActionButton>
      )}
      <ActionButton
        class="danger"
        label={`Disconnect ${integration.name}`}
        confirm={`Disconnect ${integration.name}? Sessions lose its tools until you connect it again.`}
        onAction={disconnect}
      >
        Disconnect
      </ActionButton>
    </>
  );
}
