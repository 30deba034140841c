import type { DiscoveredTool } from '../api-shapes.ts';

/** What each flag the server sets on a tool means, in plain words. */
const flagLabels: Record<string, string> = {
  'hidden-instructions': 'Hidden instructions',
  'description-changed': 'Description changed',
};

/**
 * The tools a connection offers, collapsed until asked for. Names and descriptions are written
 * by the integration: they are shown as text only, and the server's warnings about them as chips.
 */
export function IntegrationToolList({ tools }: { tools: DiscoveredTool[] | undefined }) {
  if (!tools) return <p class="muted">Listing its tools…</p>;
  if (tools.length === 0) return <p class="muted">It offers no tools yet.</p>;
  return (
    <details class="integration-tools">
      <summary>
        {tools.length} {tools.length === 1 ? 'tool' : 'tools'}
      </summary>
      <ul class="list">
        {tools.map((tool) => (
          <li key={tool.name}>
            <code>{tool.name}</code>
            {tool.flags.length > 0 && (
              <ul class="chips" aria-label="Warnings">
                {tool.flags.map((flag) => (
                  <li key={flag}>
                    <span class="chip chip-warn" title={flag}>
                      {flagLabels[flag] ?? flag}
                    </span>
                  </li>
                ))}
              </ul>
            )}
            {tool.description && <p class="integration-tool-description">{tool.description}</p>}
          </li>
        ))}
      </ul>
    </details>
  );
}
