import { useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso/router';
import { api } from '../api.ts';
import type { Integration, TemplateListing } from '../api-shapes.ts';
import { Empty, ErrorNote, Loading } from '../components/ui.tsx';
import { initialValues, toVariables, VariableFields, type VariableValues } from '../components/variable-form.tsx';
import { useAction, useResource, useTitle, useTopic } from '../hooks.ts';
import { connectionEvents, loadIntegrations, providerName } from '../integration-names.ts';

/**
 * The gallery: every template the user can run, each marked with the integrations it needs and
 * whether they are connected. A template whose required integrations are missing cannot run;
 * it links to connecting them instead. Connecting or disconnecting anywhere updates the marks.
 */
export function AgentsPage() {
  useTitle('Agents');
  const templates = useResource((signal) => api('GET', '/v1/templates', { signal }).then((r) => r.templates), []);
  const integrations = useResource(loadIntegrations, []);
  const [running, setRunning] = useState<TemplateListing>();
  useTopic('integrations', (frame) => {
    if (!connectionEvents.has(frame.event)) return;
    templates.reload();
    integrations.reload();
  });

  return (
    <section>
      <h1>Agents</h1>
      <p class="muted">Pick a workflow and run it as an agent session. Its steps use the integrations you have connected.</p>
      <ErrorNote error={templates.error} />
      {templates.loading && !templates.data && <Loading />}
      {templates.data?.length === 0 && <Empty>No templates yet. Create one in Settings.</Empty>}
      <ul class="grid" aria-label="Templates">
        {templates.data?.map((template) => (
          <TemplateCard key={template.id} template={template} integrations={integrations.data} onRun={() => setRunning(template)} />
        ))}
      </ul>
      {running && <RunDialog template={running} onClose={() => setRunning(undefined)} />}
    </section>
  );
}

function TemplateCard({
  template,
  integrations,
  onRun,
}: {
  template: TemplateListing;
  integrations: Integration[] | undefined;
  onRun: () => void;
}) {
  const { required, optional } = template.integrations;
  const missing = new Set(template.missingIntegrations);
  // An entry that stands in for every provider the template requires (the sandbox) can run it without their accounts.
  const standIn =
    required.length > 0 ? integrations?.find((i) => i.available && required.every((provider) => i.standsIn.includes(provider))) : undefined;
  const headingId = `template-${template.id}`;
  return (
    <li class="card template-card" aria-labelledby={headingId}>
      <div class="row spread">
        <h2 id={headingId} class="card-title">
          {template.name}
        </h2>
        <span class="muted">{template.category}</span>
      </div>
      <p>{template.description}</p>
      {required.length + optional.length > 0 && (
        <ul class="chips" aria-label="Integrations">
          {required.map((provider) => (
            <li key={provider}>
              <span class={`chip ${missing.has(provider) ? 'chip-warn' : 'chip-ok'}`}>
                {providerName(integrations, provider)}: {missing.has(provider) ? 'missing' : 'connected'}
              </span>
            </li>
          ))}
          {standIn && (
            <li>
              <span class="chip chip-ok">Runs with the {standIn.name}</span>
            </li>
          )}
          {optional.map((provider) => (
            <li key={provider}>
              <span class="chip chip-idle">{providerName(integrations, provider)} (optional)</span>
            </li>
          ))}
        </ul>
      )}
      <div class="row">
        <button type="button" class="primary" disabled={!template.available} onClick={onRun}>
          Run Agent<span class="visually-hidden">: {template.name}</span>
        </button>
        {[...missing].map((provider) => (
          <a key={provider} href={`/integrations#integration-${encodeURIComponent(provider)}`}>
            Connect {providerName(integrations, provider)}
          </a>
        ))}
      </div>
    </li>
  );
}

/** Asks for the template's variables, in a form made from their types, then starts the session. */
function RunDialog({ template, onClose }: { template: TemplateListing; onClose: () => void }) {
  const { route } = useLocation();
  const [values, setValues] = useState<VariableValues>(() => initialValues(template.variables));
  const { busy, error, run } = useAction();
  const dialog = useRef<HTMLDialogElement>(null);
  const opened = useRef(false);
  // Shown as a modal from the first render: focus moves into it and stays until it closes.
  const attach = (element: HTMLDialogElement | null) => {
    dialog.current = element;
    if (element && !opened.current) {
      opened.current = true;
      element.showModal();
    }
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    await run(async () => {
      const { session } = await api('POST', '/v1/sessions', {
        body: { templateId: template.id, variables: toVariables(template.variables, values) },
      });
      dialog.current?.close();
      route(`/chat/${session.id}`);
    });
  };

  return (
    <dialog ref={attach} onClose={onClose} aria-labelledby="run-title">
      <form onSubmit={submit}>
        <h2 id="run-title">Run {template.name}</h2>
        <p class="muted">{template.description}</p>
        {template.variables.length === 0 && <p>This workflow needs no input.</p>}
        <VariableFields
          variables={template.variables}
          values={values}
          idPrefix="run"
          onChange={(name, value) => setValues((v) => ({ ...v, [name]: value }))}
        />
        <ErrorNote error={error} />
        <div class="row">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Starting…' : 'Start session'}
          </button>
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
