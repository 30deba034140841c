import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso/router';
import { api } from '../api.ts';
import type { DiscoveredIntegration, Integration } from '../api-shapes.ts';
import { IntegrationCard } from '../components/integration-card.tsx';
import { IntegrationUsage } from '../components/integration-usage.tsx';
import { Empty, ErrorNote, Loading } from '../components/ui.tsx';
import { useResource, useTitle, useTopic, type Resource } from '../hooks.ts';
import { connectionEvents, loadIntegrations } from '../integration-names.ts';
import type { EventData } from '../live.ts';
import './integrations-page.css';

/** Tool calls can come in bursts: the usage is loaded once they pause this long. */
const usageSettleMs = 500;

// Discovery is rate limited: called on load and when the server says the tools changed, no more.
const loadTools = (signal: AbortSignal) => api('POST', '/v1/integrations/discover', { body: {}, signal }).then((r) => r.integrations);

/**
 * The integrations page: the catalogue with the user's connections, their tools and health kept
 * live (a change in another tab or by the health check shows here without a reload), and the
 * usage of their tools over the last week.
 */
export function IntegrationsPage() {
  useTitle('Integrations');
  const integrations = useResource(loadIntegrations, []);
  const tools = useResource(loadTools, []);
  const usageVersion = useSettledCounter(usageSettleMs);

  useTopic('integrations', (frame) => {
    if (connectionEvents.has(frame.event)) integrations.reload();
    else if (frame.event === 'tools.changed') followToolsChange(frame.data, tools);
    else if (frame.event === 'integration.tool_used') usageVersion.bump();
  });

  return (
    <section>
      <h1>Integrations</h1>
      <p class="muted">
        Connect the services your agents may use. A connected integration's tools are offered to sessions whose template or agent allows
        them.
      </p>
      <ConnectedNotice integrations={integrations.data} />
      <ErrorNote error={integrations.error} />
      <ErrorNote error={tools.error} prefix="Tools could not be listed" />
      {integrations.loading && !integrations.data && <Loading />}
      {integrations.data?.length === 0 && (
        <Empty>This installation offers no integrations. An administrator adds them to the catalogue.</Empty>
      )}
      <ul class="grid" aria-label="Integrations">
        {integrations.data?.map((integration) => (
          <IntegrationCard
            key={integration.provider}
            integration={integration}
            tools={tools.data?.find((d) => d.id === integration.connection?.id)?.tools}
            onChange={integrations.reload}
          />
        ))}
      </ul>
      <IntegrationUsage version={usageVersion.value} />
    </section>
  );
}

/**
 * Tools added or changed are listed again; tools only removed (a disconnect) are dropped here,
 * which spares a rate-limited discovery.
 */
function followToolsChange(change: EventData<'tools.changed'>, tools: Resource<DiscoveredIntegration[]>): void {
  const { added, changed, removed } = change;
  if (added.length > 0 || changed.length > 0) return tools.reload();
  tools.set((list) => list?.map((entry) => ({ ...entry, tools: entry.tools.filter((tool) => !removed.includes(tool.name)) })));
}

/** A counter that moves once bumps stop for `settleMs`: a burst of events makes one reload. */
function useSettledCounter(settleMs: number): { value: number; bump: () => void } {
  const [value, setValue] = useState(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const bump = () => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setValue((v) => v + 1), settleMs);
  };
  return { value, bump };
}

/**
 * After the OAuth redirect back (`?connected=mail`): says the integration is connected, once the
 * list confirms it (a hand-made link cannot make the page claim it), and takes the query out of
 * the address so a reload or a bookmark does not say it again.
 */
function ConnectedNotice({ integrations }: { integrations: Integration[] | undefined }) {
  const location = useLocation();
  const [provider] = useState(location.query['connected']);
  useEffect(() => {
    if (location.query['connected'] !== undefined) location.route(location.path, true);
  }, []);
  const integration = integrations?.find((i) => i.provider === provider && i.connection);
  return (
    <p role="status" class="integration-notice">
      {integration && `${integration.name} is connected.`}
    </p>
  );
}
