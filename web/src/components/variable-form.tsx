import type { TemplateVariable } from '../api-shapes.ts';

export type VariableValues = Record<string, string | boolean>;

/** The form's starting values: each variable's default, in the form a field holds it. */
export function initialValues(variables: TemplateVariable[]): VariableValues {
  const values: VariableValues = {};
  for (const variable of variables) {
    const value = variable.default;
    if (variable.type === 'boolean') values[variable.name] = value === true;
    else if (Array.isArray(value)) values[variable.name] = value.join('\n');
    else values[variable.name] = value === undefined ? '' : String(value);
  }
  return values;
}

/**
 * What the form holds, as the API takes it: numbers as numbers, lists one item per line, and
 * optional fields left empty omitted (the template's default then applies). The server checks
 * the values against the declared types again and names any that do not fit.
 */
export function toVariables(variables: TemplateVariable[], values: VariableValues): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const variable of variables) {
    const value = values[variable.name];
    if (variable.type === 'boolean') {
      result[variable.name] = value === true;
      continue;
    }
    const text = typeof value === 'string' ? value.trim() : '';
    if (text === '') continue;
    if (variable.type === 'number') result[variable.name] = Number(text);
    else if (variable.type === 'list')
      result[variable.name] = text
        .split('\n')
        .map((item) => item.trim())
        .filter(Boolean);
    else result[variable.name] = text;
  }
  return result;
}

/** One field per template variable, its control chosen by the variable's type. */
export function VariableFields({
  variables,
  values,
  onChange,
  idPrefix,
}: {
  variables: TemplateVariable[];
  values: VariableValues;
  onChange: (name: string, value: string | boolean) => void;
  idPrefix: string;
}) {
  return (
    <>
      {variables.map((variable) => {
        const id = `${idPrefix}-${variable.name}`;
        const hintId = variable.description ? `${id}-hint` : undefined;
        const value = values[variable.name];
        const text = typeof value === 'string' ? value : '';
        const set = (event: { currentTarget: { value: string } }) => onChange(variable.name, event.currentTarget.value);
        const common = { id, name: variable.name, required: variable.required === true, 'aria-describedby': hintId };
        let control;
        switch (variable.type) {
          case 'boolean':
            control = (
              <input
                type="checkbox"
                {...common}
                required={false}
                checked={value === true}
                onChange={(e) => onChange(variable.name, e.currentTarget.checked)}
              />
            );
            break;
          case 'enum':
            control = (
              <select {...common} value={text} onChange={set}>
                {!variable.required && <option value="">—</option>}
                {(variable.values ?? []).map((option) => (
                  <option key={option} value={option}>
                    {option}
                  </option>
                ))}
              </select>
            );
            break;
          case 'number':
            control = <input type="number" step="any" {...common} min={variable.min} max={variable.max} value={text} onInput={set} />;
            break;
          case 'date':
            control = (
              <input
                type="date"
                {...common}
                min={variable.min as string | undefined}
                max={variable.max as string | undefined}
                value={text}
                onInput={set}
              />
            );
            break;
          case 'list':
            control = <textarea {...common} rows={3} value={text} onInput={set} placeholder="One per line" />;
            break;
          default:
            control = (
              <input
                type="text"
                {...common}
                maxLength={typeof variable.max === 'number' ? variable.max : undefined}
                value={text}
                onInput={set}
              />
            );
        }
        return (
          <div class={`field${variable.type === 'boolean' ? ' field-inline' : ''}`} key={variable.name}>
            <label for={id}>
              {variable.name}
              {variable.required ? ' (required)' : ''}
            </label>
            {control}
            {variable.description && (
              <span class="hint" id={hintId}>
                {variable.description}
              </span>
            )}
          </div>
        );
      })}
    </>
  );
}
