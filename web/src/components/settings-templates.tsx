import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { Template } from '../api-shapes.ts';
import { formatTime } from '../format.ts';
import { useResource } from '../hooks.ts';
import { definitionOf, toYaml } from './settings-template-draft.ts';
import { TemplateEditor } from './settings-template-editor.tsx';
import { ActionButton, Empty, ErrorNote, Loading } from './ui.tsx';

type Editing = { kind: 'new' } | { kind: 'edit'; template: Template };

/**
 * The user's own templates: create, edit (each save is a new version), delete, and read any
 * earlier version. Built-ins are left to the gallery, where they are read-only.
 */
export function SettingsTemplates() {
  const templates = useResource(
    (signal) => api('GET', '/v1/templates', { signal }).then((answer): Template[] => answer.templates.filter((t) => !t.builtIn)),
    [],
  );
  const [editing, setEditing] = useState<Editing>();

  const saved = (template: Template) => {
    templates.set((list) =>
      list?.some((t) => t.id === template.id) ? list.map((t) => (t.id === template.id ? template : t)) : [...(list ?? []), template],
    );
    setEditing({ kind: 'edit', template });
  };

  return (
    <div class="stack settings-block">
      <p class="hint">
        The built-in templates are in the <a href="/agents">Agents gallery</a>, where they can be run but not changed. Here are the
        templates you made.
      </p>
      <ErrorNote error={templates.error} />
      {templates.loading && !templates.data ? <Loading label="Loading templates…" /> : null}
      {templates.data?.length === 0 ? <Empty>You have not made any templates yet.</Empty> : null}
      {templates.data && templates.data.length > 0 ? (
        <ul class="list settings-list" aria-label="Your templates">
          {templates.data.map((template) => (
            <li key={template.id} class="card row spread">
              <div>
                <h3>{template.name}</h3>
                <p class="muted">
                  <code>{template.slug}</code> · version {template.version} · {template.category}
                </p>
              </div>
              <div class="row">
                <button
                  type="button"
                  aria-label={`Edit ${template.name}`}
                  aria-pressed={editing?.kind === 'edit' && editing.template.id === template.id}
                  onClick={() => setEditing({ kind: 'edit', template })}
                >
                  Edit
                </button>
                <ActionButton
                  class="danger"
                  label={`Delete ${template.name}`}
                  confirm={`Delete the template "${template.name}" and all its versions? Sessions already started from it keep running.`}
                  onAction={async () => {
                    await api('DELETE', '/v1/templates/{id}', { params: { id: template.id } });
                    templates.set((list) => list?.filter((t) => t.id !== template.id));
                    if (editing?.kind === 'edit' && editing.template.id === template.id) setEditing(undefined);
                  }}
                >
                  Delete
                </ActionButton>
              </div>
            </li>
          ))}
        </ul>
      ) : null}
      {editing ? null : (
        <button type="button" onClick={() => setEditing({ kind: 'new' })}>
          New template
        </button>
      )}
      {editing?.kind === 'new' ? <TemplateEditor onSaved={saved} onCancel={() => setEditing(undefined)} /> : null}
      {editing?.kind === 'edit' ? (
        <>
          <TemplateEditor
            key={`${editing.template.id}:${editing.template.version}`}
            template={editing.template}
            onSaved={saved}
            onCancel={() => setEditing(undefined)}
          />
          <TemplateVersions key={editing.template.id} template={editing.template} />
        </>
      ) : null}
    </div>
  );
}

/** A template's versions, newest first; an earlier one can be read as YAML but not edited. */
function TemplateVersions({ template }: { template: Template }) {
  const versions = useResource(
    (signal) => api('GET', '/v1/templates/{id}/versions', { params: { id: template.id }, signal }).then((answer) => answer.versions),
    [template.id, template.version],
  );
  const [shown, setShown] = useState<{ version: number; yaml: string }>();

  const show = async (version: number) => {
    const answer = await api('GET', '/v1/templates/{id}', { params: { id: template.id }, query: { version } });
    setShown({ version, yaml: toYaml(definitionOf(answer.template)) });
  };

  return (
    <section class="card" aria-labelledby="tpl-versions-heading">
      <h3 id="tpl-versions-heading">Version history</h3>
      <ErrorNote error={versions.error} />
      {versions.loading && !versions.data ? <Loading label="Loading versions…" /> : null}
      {versions.data ? (
        <ol class="list settings-versions" aria-label={`Versions of ${template.name}`}>
          {versions.data.map(({ version, createdAt }) => (
            <li key={version} class="row spread">
              <span>
                Version {version} · {formatTime(createdAt)}
                {version === template.version ? ' (current)' : ''}
              </span>
              <ActionButton label={`View YAML of version ${version}`} onAction={() => show(version)}>
                View YAML
              </ActionButton>
            </li>
          ))}
        </ol>
      ) : null}
      {shown ? (
        <section class="settings-version-view" aria-labelledby="tpl-version-heading">
          <div class="row spread">
            <h4 id="tpl-version-heading">Version {shown.version} (read-only)</h4>
            <button type="button" onClick={() => setShown(undefined)}>
              Close
            </button>
          </div>
          <pre tabIndex={0}>{shown.yaml}</pre>
        </section>
      ) : null}
    </section>
  );
}
