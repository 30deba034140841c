import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { TemplateListing, Trigger } from '../api-shapes.ts';
import { useUser } from '../app.tsx';
import { useAction } from '../hooks.ts';
import { ScheduleHelper, toSchedule, type ScheduleValues } from './schedule-helper.tsx';
import { ErrorNote } from './ui.tsx';
import { initialValues, toVariables, VariableFields, type VariableValues } from './variable-form.tsx';

type Kind = Trigger['kind'];

interface PollValues {
  tool: string;
  itemsPath: string;
  idPath: string;
  everyMinutes: string;
}

const kindLabels: Record<Kind, string> = {
  schedule: 'On a schedule',
  webhook: 'When a webhook is delivered',
  integration: 'When an integration has something new',
};

/**
 * A new trigger: its name, the template it runs with its variables (the form the gallery uses),
 * when it runs (a schedule with its next five times, a webhook, or a polled integration tool), and
 * what happens when a run is still going. The server checks it all again and names any problem.
 */
export function TriggerForm({
  templates,
  onCreated,
  onCancel,
}: {
  templates: TemplateListing[];
  onCreated: (created: { trigger: Trigger; secret?: string | undefined }) => void;
  onCancel: () => void;
}) {
  const { user } = useUser();
  const [name, setName] = useState('');
  const [templateId, setTemplateId] = useState(templates[0]?.id ?? '');
  const template = templates.find((t) => t.id === templateId);
  const [values, setValues] = useState<VariableValues>(() => (template ? initialValues(template.variables) : {}));
  const [kind, setKind] = useState<Kind>('schedule');
  const [schedule, setSchedule] = useState<ScheduleValues>({
    mode: 'cron',
    cron: '0 8 * * 1-5',
    everyMinutes: '60',
    timezone: user.timezone,
  });
  const [poll, setPoll] = useState<PollValues>({ tool: 'gmail__list_unread', itemsPath: '$.messages', idPath: '$.id', everyMinutes: '5' });
  const [overlap, setOverlap] = useState<'skip' | 'queue_one' | 'allow'>('skip');
  const [deliverVia, setDeliverVia] = useState<'' | 'slack' | 'email'>('');
  const [deliverTo, setDeliverTo] = useState('');
  const { busy, error, run } = useAction();

  const pickTemplate = (id: string) => {
    setTemplateId(id);
    const picked = templates.find((t) => t.id === id);
    setValues(picked ? initialValues(picked.variables) : {});
  };
  const setPollField = (key: keyof PollValues) => (event: { currentTarget: { value: string } }) =>
    setPoll((p) => ({ ...p, [key]: event.currentTarget.value }));

  const submit = async (event: Event) => {
    event.preventDefault();
    if (!template) return;
    await run(async () => {
      const created = await api('POST', '/v1/triggers', {
        body: {
          name: name.trim(),
          kind,
          templateId: template.id,
          variables: toVariables(template.variables, values),
          overlap,
          ...(deliverVia === 'slack' ? { deliver: { via: 'slack' as const, channel: deliverTo.trim() } } : {}),
          ...(deliverVia === 'email' ? { deliver: { via: 'email' as const, to: deliverTo.trim() } } : {}),
          ...(kind === 'schedule' ? { schedule: toSchedule(schedule) } : {}),
          ...(kind === 'webhook' ? { webhook: {} } : {}),
          ...(kind === 'integration'
            ? {
                integration: {
                  tool: poll.tool.trim(),
                  itemsPath: poll.itemsPath.trim(),
                  idPath: poll.idPath.trim(),
                  everySeconds: Math.round(Number(poll.everyMinutes) * 60),
                },
              }
            : {}),
        },
      });
      onCreated(created);
    });
  };

  return (
    <form class="card trigger-form" onSubmit={submit} aria-labelledby="trigger-form-title">
      <h2 id="trigger-form-title">New trigger</h2>
      <div class="field">
        <label for="trigger-name">Name</label>
        <input id="trigger-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="trigger-template">Template</label>
        <select id="trigger-template" value={templateId} onChange={(e) => pickTemplate(e.currentTarget.value)}>
          {templates.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
            </option>
          ))}
        </select>
        {template && <span class="hint">{template.description}</span>}
      </div>
      {template && (
        <fieldset>
          <legend>Variables</legend>
          {template.variables.length === 0 && <p class="muted">This workflow needs no input.</p>}
          <VariableFields
            variables={template.variables}
            values={values}
            idPrefix="trigger-var"
            onChange={(variable, value) => setValues((v) => ({ ...v, [variable]: value }))}
          />
        </fieldset>
      )}
      <div class="field">
        <label for="trigger-kind">Runs</label>
        <select id="trigger-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind)}>
          {(Object.keys(kindLabels) as Kind[]).map((k) => (
            <option key={k} value={k}>
              {kindLabels[k]}
            </option>
          ))}
        </select>
      </div>
      {kind === 'schedule' && <ScheduleHelper values={schedule} onChange={setSchedule} />}
      {kind === 'webhook' && <p class="hint">The delivery URL and its secret are shown once the trigger is saved.</p>}
      {kind === 'integration' && (
        <fieldset>
          <legend>Integration</legend>
          <div class="field">
            <label for="poll-tool">Tool polled</label>
            <input id="poll-tool" required value={poll.tool} onInput={setPollField('tool')} aria-describedby="poll-tool-hint" />
            <span class="hint" id="poll-tool-hint">
              A tool of a connected integration, as provider__tool. Each new item it lists starts one run; what is there when you save
              starts none.
            </span>
          </div>
          <div class="field">
            <label for="poll-items">Items at</label>
            <input id="poll-items" value={poll.itemsPath} onInput={setPollField('itemsPath')} />
          </div>
          <div class="field">
            <label for="poll-id">Item id at</label>
            <input id="poll-id" value={poll.idPath} onInput={setPollField('idPath')} />
          </div>
          <div class="field">
            <label for="poll-every">Look every (minutes)</label>
            <input id="poll-every" type="number" min={1} step={1} value={poll.everyMinutes} onInput={setPollField('everyMinutes')} />
          </div>
        </fieldset>
      )}
      <div class="field">
        <label for="trigger-overlap">If the previous run is still going</label>
        <select id="trigger-overlap" value={overlap} onChange={(e) => setOverlap(e.currentTarget.value as typeof overlap)}>
          <option value="skip">Skip this run</option>
          <option value="queue_one">Run it after (one waits at most)</option>
          <option value="allow">Run it anyway</option>
        </select>
      </div>
      <div class="field">
        <label for="trigger-deliver">Also tell me when a run ends</label>
        <select id="trigger-deliver" value={deliverVia} onChange={(e) => setDeliverVia(e.currentTarget.value as typeof deliverVia)}>
          <option value="">Here only</option>
          <option value="slack">In a Slack channel</option>
          <option value="email">By email</option>
        </select>
        <span class="hint">Sent through your connected integration, with the run's answer and a link to its session.</span>
      </div>
      {deliverVia && (
        <div class="field">
          <label for="trigger-deliver-to">{deliverVia === 'slack' ? 'Channel' : 'Email address'}</label>
          <input
            id="trigger-deliver-to"
            required
            type="text"
            inputMode={deliverVia === 'email' ? 'email' : 'text'}
            autocomplete={deliverVia === 'email' ? 'email' : 'off'}
            placeholder={deliverVia === 'slack' ? '#general' : 'you@example.com'}
            value={deliverTo}
            onInput={(e) => setDeliverTo(e.currentTarget.value)}
          />
        </div>
      )}
      <ErrorNote error={error} />
      <div class="row">
        <button type="submit" class="primary" disabled={busy || !template}>
          {busy ? 'Saving…' : 'Save trigger'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
