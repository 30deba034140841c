import type { TargetedKeyboardEvent } from 'preact';
import { useMemo, useRef, useState } from 'preact/hooks';
import { api, type RequestBody } from '../api.ts';
import type { Template } from '../api-shapes.ts';
import { definitionOf, emptyForm, formDefinition, formOf, fromYaml, toYaml, type TemplateForm } from './settings-template-draft.ts';
import { TemplateFormFields } from './settings-template-form.tsx';
import { useAction } from '../hooks.ts';
import { ErrorNote } from './ui.tsx';

type Mode = 'form' | 'yaml';
const modes: Array<{ mode: Mode; label: string }> = [
  { mode: 'form', label: 'Form' },
  { mode: 'yaml', label: 'YAML' },
];

/**
 * Creates a template, or saves a changed one as its next version, edited as a form or as YAML.
 * Switching converts what is there; YAML that does not parse names its line, and neither a
 * switch nor a save happens until it is fixed. The server checks the rest and names the field.
 */
export function TemplateEditor({
  template,
  onSaved,
  onCancel,
}: {
  template?: Template;
  onSaved: (template: Template) => void;
  onCancel: () => void;
}) {
  const [mode, setMode] = useState<Mode>('form');
  const [form, setForm] = useState<TemplateForm>(() => (template ? formOf(definitionOf(template)) : emptyForm()));
  const [yaml, setYaml] = useState('');
  const { busy, error, run } = useAction();
  const yamlResult = useMemo(() => (mode === 'yaml' ? fromYaml(yaml) : undefined), [mode, yaml]);
  const yamlError = yamlResult && !yamlResult.ok ? yamlResult.message : undefined;
  const tabs = useRef<Record<Mode, HTMLButtonElement | null>>({ form: null, yaml: null });

  const switchTo = (next: Mode) => {
    if (next === mode) return;
    if (next === 'yaml') {
      setYaml(toYaml(formDefinition(form)));
    } else {
      if (!yamlResult?.ok) return;
      setForm(formOf(yamlResult.definition));
    }
    setMode(next);
    tabs.current[next]?.focus();
  };

  // Arrow keys move between the tabs, as in any tab list.
  const onTabKey = (event: TargetedKeyboardEvent<HTMLButtonElement>) => {
    if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
    event.preventDefault();
    switchTo(mode === 'form' ? 'yaml' : 'form');
  };

  const save = async (event: Event) => {
    event.preventDefault();
    const definition = mode === 'form' ? formDefinition(form) : yamlResult?.ok ? yamlResult.definition : undefined;
    if (!definition) return;
    // The user's own definition, from the form or YAML: the server validates it and answers
    // TEMPLATE_INVALID saying where it is wrong.
    const body = definition as RequestBody<'POST', '/v1/templates'>;
    await run(async () => {
      const answer = template
        ? await api('PUT', '/v1/templates/{id}', { params: { id: template.id }, body })
        : await api('POST', '/v1/templates', { body });
      onSaved(answer.template);
    });
  };

  return (
    <form class="card settings-form settings-template-editor" onSubmit={save} aria-labelledby="tpl-editor-heading">
      <h3 id="tpl-editor-heading">{template ? `Edit “${template.name}” (now version ${template.version})` : 'New template'}</h3>
      <div role="tablist" aria-label="Edit as" class="settings-tabs">
        {modes.map(({ mode: tab, label }) => (
          <button
            key={tab}
            type="button"
            role="tab"
            id={`tpl-tab-${tab}`}
            ref={(element) => {
              tabs.current[tab] = element;
            }}
            aria-selected={mode === tab}
            aria-controls="tpl-panel"
            tabIndex={mode === tab ? 0 : -1}
            onClick={() => switchTo(tab)}
            onKeyDown={onTabKey}
          >
            {label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="tpl-panel" aria-labelledby={`tpl-tab-${mode}`}>
        {mode === 'form' ? (
          <TemplateFormFields form={form} onChange={(change) => setForm((previous) => ({ ...previous, ...change }))} />
        ) : (
          <div class="field">
            <label for="tpl-yaml">Template as YAML</label>
            <textarea
              id="tpl-yaml"
              class="settings-mono settings-yaml"
              spellcheck={false}
              aria-invalid={yamlError ? true : undefined}
              aria-describedby="tpl-yaml-problem"
              value={yaml}
              onInput={(e) => setYaml(e.currentTarget.value)}
            />
            <div id="tpl-yaml-problem" aria-live="polite">
              {yamlError ? <p class="error-note">{yamlError}</p> : null}
            </div>
          </div>
        )}
      </div>
      <div class="row">
        <button type="submit" class="primary" disabled={busy || yamlError !== undefined}>
          {busy ? 'Saving…' : template ? 'Save as a new version' : 'Create template'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <ErrorNote error={error} />
    </form>
  );
}
