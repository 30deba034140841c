import { api } from '../api.ts';
import { useResource } from '../hooks.ts';
import { ActionButton, Empty, ErrorNote, Loading } from './ui.tsx';

/** The user's "always allow" rules, saved when approving a call, each with a way to remove it. */
export function SettingsApprovals() {
  const rules = useResource((signal) => api('GET', '/v1/approval-rules', { signal }).then((r) => r.rules), []);
  const remove = async (id: string) => {
    await api('DELETE', '/v1/approval-rules/{id}', { params: { id } });
    rules.reload();
  };
  if (rules.loading && !rules.data) return <Loading />;
  return (
    <div class="stack">
      <p class="muted">Tools you chose to always allow for an agent: its calls of them run without asking you.</p>
      <ErrorNote error={rules.error} />
      {rules.data?.length === 0 && <Empty>No rules: every call that needs approval asks you.</Empty>}
      <ul class="list" aria-label="Always allowed tools">
        {rules.data?.map((rule) => (
          <li key={rule.id} class="row spread">
            <span>
              <strong>{rule.tool}</strong>{' '}
              <span class="muted">
                always {rule.decision} · {rule.agent ? rule.agent.name : 'sessions without an agent'}
              </span>
            </span>
            <ActionButton onAction={() => remove(rule.id)} label={`Remove the rule for ${rule.tool}`}>
              Remove
            </ActionButton>
          </li>
        ))}
      </ul>
    </div>
  );
}
