import { api } from './api.ts';
import type { Session } from './api-shapes.ts';

export interface Names {
  templates: Map<string, string>;
  agents: Map<string, string>;
}

/** Template and agent names, to call sessions by what they run. */
export async function loadNames(signal: AbortSignal): Promise<Names> {
  const [templates, agents] = await Promise.all([api('GET', '/v1/templates', { signal }), api('GET', '/v1/agents', { signal })]);
  return { templates: new Map(templates.templates.map((t) => [t.id, t.name])), agents: new Map(agents.agents.map((a) => [a.id, a.name])) };
}

/** A session's name: its template's, else its agent's. */
export function sessionTitle(session: Session, names: Names | undefined): string {
  return (
    (session.templateId && names?.templates.get(session.templateId)) || (session.agentId && names?.agents.get(session.agentId)) || 'Chat'
  );
}
