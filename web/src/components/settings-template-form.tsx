import type { TargetedEvent } from 'preact';
import { emptyStep, emptyVariable, variableTypes, type StepRow, type TemplateForm, type VariableRow } from './settings-template-draft.ts';

type Update = (change: Partial<TemplateForm>) => void;
type InputEvent = TargetedEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>;

/** A labelled text input or textarea bound to one string field of the form. */
function TextField(props: {
  id: string;
  label: string;
  value: string;
  onValue: (value: string) => void;
  multiline?: boolean;
  hint?: string;
  required?: boolean;
  mono?: boolean;
}) {
  const hintId = props.hint ? `${props.id}-hint` : undefined;
  const common = {
    id: props.id,
    value: props.value,
    required: props.required,
    spellcheck: props.mono ? false : undefined,
    class: props.mono ? 'settings-mono' : undefined,
    'aria-describedby': hintId,
    onInput: (event: InputEvent) => props.onValue(event.currentTarget.value),
  };
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.multiline ? <textarea {...common} /> : <input {...common} />}
      {props.hint ? (
        <p class="hint" id={hintId}>
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

/**
 * The template editor's form: every field of a definition a person usually sets, with the
 * variables and steps as rows that can be added and removed.
 */
export function TemplateFormFields({ form, onChange }: { form: TemplateForm; onChange: Update }) {
  const setVariable = (key: number, change: Partial<VariableRow>) =>
    onChange({ variables: form.variables.map((row) => (row.key === key ? { ...row, ...change } : row)) });
  const setStep = (key: number, change: Partial<StepRow>) =>
    onChange({ steps: form.steps.map((row) => (row.key === key ? { ...row, ...change } : row)) });
  return (
    <div class="settings-template-form">
      <div class="settings-inline">
        <TextField
          id="tpl-slug"
          label="Slug"
          required
          mono
          value={form.slug}
          onValue={(slug) => onChange({ slug })}
          hint="Lower-case letters, digits and “-”, such as weekly-report."
        />
        <TextField id="tpl-category" label="Category" required value={form.category} onValue={(category) => onChange({ category })} />
      </div>
      <TextField id="tpl-name" label="Template name" required value={form.name} onValue={(name) => onChange({ name })} />
      <TextField
        id="tpl-description"
        label="Description"
        required
        multiline
        value={form.description}
        onValue={(description) => onChange({ description })}
      />
      <TextField
        id="tpl-system"
        label="System prompt"
        required
        multiline
        mono
        value={form.systemPrompt}
        onValue={(systemPrompt) => onChange({ systemPrompt })}
        hint="Use {{name}} for a variable's value."
      />
      <TextField
        id="tpl-user"
        label="User prompt (optional)"
        multiline
        mono
        value={form.userPrompt}
        onValue={(userPrompt) => onChange({ userPrompt })}
      />

      <fieldset class="settings-rows">
        <legend>Variables</legend>
        {form.variables.length === 0 ? <p class="muted">No variables.</p> : null}
        {form.variables.map((row, index) => (
          <VariableFields
            key={row.key}
            row={row}
            number={index + 1}
            onChange={(change) => setVariable(row.key, change)}
            onRemove={() => onChange({ variables: form.variables.filter((r) => r.key !== row.key) })}
          />
        ))}
        <button type="button" onClick={() => onChange({ variables: [...form.variables, emptyVariable()] })}>
          Add variable
        </button>
      </fieldset>

      <fieldset class="settings-rows">
        <legend>Integrations</legend>
        <div class="settings-inline">
          <TextField
            id="tpl-required"
            label="Required"
            mono
            value={form.requiredIntegrations}
            onValue={(requiredIntegrations) => onChange({ requiredIntegrations })}
            hint="Provider ids, comma-separated, such as gmail."
          />
          <TextField
            id="tpl-optional"
            label="Optional"
            mono
            value={form.optionalIntegrations}
            onValue={(optionalIntegrations) => onChange({ optionalIntegrations })}
            hint="Used when connected."
          />
        </div>
      </fieldset>

      <fieldset class="settings-rows">
        <legend>Steps</legend>
        {form.steps.length === 0 ? <p class="muted">No steps.</p> : null}
        {form.steps.map((row, index) => (
          <fieldset key={row.key} class="settings-row">
            <legend>Step {index + 1}</legend>
            <TextField
              id={`tpl-step-${row.key}-instruction`}
              label="Instruction"
              multiline
              value={row.instruction}
              onValue={(instruction) => setStep(row.key, { instruction })}
            />
            <TextField
              id={`tpl-step-${row.key}-tools`}
              label="Tools"
              mono
              value={row.tools}
              onValue={(tools) => setStep(row.key, { tools })}
              hint="Comma-separated: knowledge_search or provider__tool, such as gmail__send_email."
            />
            <button type="button" class="danger" onClick={() => onChange({ steps: form.steps.filter((r) => r.key !== row.key) })}>
              Remove step {index + 1}
            </button>
          </fieldset>
        ))}
        <button type="button" onClick={() => onChange({ steps: [...form.steps, emptyStep()] })}>
          Add step
        </button>
      </fieldset>
    </div>
  );
}

function VariableFields({
  row,
  number,
  onChange,
  onRemove,
}: {
  row: VariableRow;
  number: number;
  onChange: (change: Partial<VariableRow>) => void;
  onRemove: () => void;
}) {
  const id = `tpl-var-${row.key}`;
  return (
    <fieldset class="settings-row">
      <legend>Variable {number}</legend>
      <div class="settings-inline">
        <TextField id={`${id}-name`} label="Name" mono value={row.name} onValue={(name) => onChange({ name })} />
        <div class="field">
          <label for={`${id}-type`}>Type</label>
          <select id={`${id}-type`} value={row.type} onChange={(e) => onChange({ type: e.currentTarget.value })}>
            {(variableTypes as readonly string[]).includes(row.type) ? null : <option value={row.type}>{row.type}</option>}
            {variableTypes.map((type) => (
              <option key={type} value={type}>
                {type}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div class="row settings-check">
        <input
          id={`${id}-required`}
          type="checkbox"
          checked={row.required}
          onChange={(e) => onChange({ required: e.currentTarget.checked })}
        />
        <label for={`${id}-required`}>Required</label>
      </div>
      <TextField
        id={`${id}-description`}
        label="Description"
        value={row.description}
        onValue={(description) => onChange({ description })}
      />
      {row.type === 'enum' ? (
        <TextField
          id={`${id}-values`}
          label="Values"
          value={row.values}
          onValue={(values) => onChange({ values })}
          hint="The choices, comma-separated."
        />
      ) : null}
      <button type="button" class="danger" onClick={onRemove}>
        Remove variable {number}
      </button>
    </fieldset>
  );
}
