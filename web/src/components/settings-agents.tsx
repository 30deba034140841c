import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { Agent } from '../api-shapes.ts';
import { useAction, useResource } from '../hooks.ts';
import { AgentApprovalRules, type AgentApprovalRule } from './agent-approval-rules.tsx';
import { ModelPicker } from './model-picker.tsx';
import { ActionButton, Empty, ErrorNote, Loading } from './ui.tsx';

/** Which agent the form is open for: a new one, or an existing one by id. */
type Editing = { kind: 'new' } | { kind: 'edit'; agent: Agent };

/**
 * The user's agents: create, change and delete. The default agent can be changed but not
 * deleted (the server refuses), so it offers no Delete.
 */
export function SettingsAgents() {
  const agents = useResource((signal) => api('GET', '/v1/agents', { signal }).then((answer) => answer.agents), []);
  const [editing, setEditing] = useState<Editing>();

  const saved = (agent: Agent) => {
    agents.set((list) =>
      list?.some((a) => a.id === agent.id) ? list.map((a) => (a.id === agent.id ? agent : a)) : [...(list ?? []), agent],
    );
    setEditing(undefined);
  };

  return (
    <div class="stack settings-block">
      <ErrorNote error={agents.error} />
      {agents.loading && !agents.data ? <Loading label="Loading agents…" /> : null}
      {agents.data?.length === 0 ? <Empty>You have no agents yet.</Empty> : null}
      {agents.data && agents.data.length > 0 ? (
        <ul class="list settings-list" aria-label="Your agents">
          {agents.data.map((agent) => (
            <li key={agent.id} class="card">
              <div class="row spread">
                <div>
                  <h3>
                    {agent.name} {agent.isDefault ? <span class="chip chip-idle">Default</span> : null}
                  </h3>
                  <p class="muted">
                    Model: {agent.model ?? 'the server default'} · Tools: {agent.tools ? agent.tools.join(', ') || 'none' : 'all offered'}
                    {agent.approvalRules.length > 0
                      ? ` · Approval rules: ${agent.approvalRules.map((r) => `${r.tool} ${r.decision}`).join(', ')}`
                      : null}
                  </p>
                </div>
                <div class="row">
                  <button type="button" aria-label={`Edit ${agent.name}`} onClick={() => setEditing({ kind: 'edit', agent })}>
                    Edit
                  </button>
                  {agent.isDefault ? null : (
                    <ActionButton
                      class="danger"
                      label={`Delete ${agent.name}`}
                      confirm={`Delete the agent "${agent.name}"? Its running sessions keep going; new ones cannot use it.`}
                      onAction={async () => {
                        await api('DELETE', '/v1/agents/{id}', { params: { id: agent.id } });
                        agents.set((list) => list?.filter((a) => a.id !== agent.id));
                        if (editing?.kind === 'edit' && editing.agent.id === agent.id) setEditing(undefined);
                      }}
                    >
                      Delete
                    </ActionButton>
                  )}
                </div>
              </div>
              {editing?.kind === 'edit' && editing.agent.id === agent.id ? (
                <AgentForm agent={agent} onSaved={saved} onCancel={() => setEditing(undefined)} />
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
      {editing?.kind === 'new' ? (
        <div class="card">
          <AgentForm onSaved={saved} onCancel={() => setEditing(undefined)} />
        </div>
      ) : (
        <button type="button" onClick={() => setEditing({ kind: 'new' })}>
          New agent
        </button>
      )}
    </div>
  );
}

const toolList = (text: string) =>
  text
    .split(',')
    .map((tool) => tool.trim())
    .filter((tool) => tool !== '');

/** Creates an agent, or saves a changed one whole (PUT replaces; the template link is kept). */
function AgentForm({ agent, onSaved, onCancel }: { agent?: Agent; onSaved: (agent: Agent) => void; onCancel: () => void }) {
  const id = agent ? `agent-${agent.id}` : 'agent-new';
  const [name, setName] = useState(agent?.name ?? '');
  const [instructions, setInstructions] = useState(agent?.instructions ?? '');
  const [model, setModel] = useState(agent?.model ?? '');
  const [tools, setTools] = useState(agent?.tools?.join(', ') ?? '');
  const [approvalRules, setApprovalRules] = useState<AgentApprovalRule[]>(agent?.approvalRules ?? []);
  const { busy, error, run } = useAction();

  const save = async (event: Event) => {
    event.preventDefault();
    const body = {
      name: name.trim(),
      instructions,
      model: model.trim() || null,
      templateId: agent?.templateId ?? null,
      tools: tools.trim() ? toolList(tools) : null,
      approvalRules,
    };
    await run(async () => {
      const answer = agent
        ? await api('PUT', '/v1/agents/{id}', { params: { id: agent.id }, body })
        : await api('POST', '/v1/agents', { body });
      onSaved(answer.agent);
    });
  };

  return (
    <form class="settings-form" onSubmit={save} aria-label={agent ? `Edit ${agent.name}` : 'New agent'}>
      <div class="field">
        <label for={`${id}-name`}>Agent name</label>
        <input id={`${id}-name`} required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for={`${id}-instructions`}>Instructions</label>
        <textarea
          id={`${id}-instructions`}
          maxLength={16_000}
          value={instructions}
          onInput={(e) => setInstructions(e.currentTarget.value)}
        />
      </div>
      <div class="field">
        <label for={`${id}-model`}>Model</label>
        <ModelPicker id={`${id}-model`} value={model} onChange={setModel} />
      </div>
      <div class="field">
        <label for={`${id}-tools`}>Tools</label>
        <input
          id={`${id}-tools`}
          spellcheck={false}
          aria-describedby={`${id}-tools-hint`}
          value={tools}
          onInput={(e) => setTools(e.currentTarget.value)}
        />
        <p class="hint" id={`${id}-tools-hint`}>
          Comma-separated: a tool name, <code>gmail__*</code> for all of a provider's tools, or <code>*__*</code> for every integration
          tool. Leave empty to allow every tool.
        </p>
      </div>
      <AgentApprovalRules id={id} rules={approvalRules} onChange={setApprovalRules} />
      <div class="row">
        <button type="submit" class="primary" disabled={busy || name.trim() === ''}>
          {busy ? 'Saving…' : agent ? 'Save agent' : 'Create agent'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <ErrorNote error={error} />
    </form>
  );
}
