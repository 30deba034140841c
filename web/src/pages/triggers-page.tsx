import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { Trigger } from '../api-shapes.ts';
import { formatInZone } from '../components/schedule-helper.tsx';
import { TriggerForm } from '../components/trigger-form.tsx';
import { TriggerRuns } from '../components/trigger-runs.tsx';
import { ActionButton, Empty, ErrorNote, Loading, StatusChip } from '../components/ui.tsx';
import { WebhookSecret } from '../components/webhook-secret.tsx';
import { useResource, useTitle, useTopic } from '../hooks.ts';
import './triggers-page.css';

/** A secret shown once: after saving a webhook trigger or rotating its secret. */
interface Shown {
  triggerId: string;
  path: string;
  secret: string;
}

/**
 * Workflows that run on their own: the user's triggers (schedules, webhooks, integration events),
 * each with what it runs next, its run history linking to each session, and pause, resume, fire
 * now, rotate and delete. A new one is made from a template with its variables. The page follows
 * the user's notifications, so a run that ends shows in its history at once.
 */
export function TriggersPage() {
  useTitle('Triggers');
  const triggers = useResource((signal) => api('GET', '/v1/triggers', { signal }).then((r) => r.triggers), []);
  const templates = useResource((signal) => api('GET', '/v1/templates', { signal }).then((r) => r.templates), []);
  const [creating, setCreating] = useState(false);
  const [shown, setShown] = useState<Shown>();
  // Per trigger, bumped when one of its runs may have changed: its history is read again.
  const [versions, setVersions] = useState<Record<string, number>>({});
  const bump = (id: string) => setVersions((v) => ({ ...v, [id]: (v[id] ?? 0) + 1 }));

  useTopic('notifications', (frame) => {
    if (frame.event !== 'notification.created') return;
    const id = frame.data.data['triggerId'];
    if (!id) return;
    bump(id);
    if (frame.data.kind === 'trigger_paused') triggers.reload();
  });

  const replace = (trigger: Trigger) => triggers.set((list) => list?.map((t) => (t.id === trigger.id ? trigger : t)));

  return (
    <section>
      <div class="row spread">
        <h1>Triggers</h1>
        {!creating && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            New trigger
          </button>
        )}
      </div>
      <p class="muted">
        Workflows that start by themselves: on a schedule, when a webhook is delivered, or when an integration has something new. Each run
        is a session you can open; you are notified when it ends.
      </p>
      {creating && templates.data && (
        <TriggerForm
          templates={templates.data}
          onCancel={() => setCreating(false)}
          onCreated={({ trigger, secret }) => {
            setCreating(false);
            triggers.set((list) => [trigger, ...(list ?? [])]);
            if (secret && trigger.webhookPath) setShown({ triggerId: trigger.id, path: trigger.webhookPath, secret });
          }}
        />
      )}
      <ErrorNote error={triggers.error ?? templates.error} />
      {triggers.loading && !triggers.data && <Loading />}
      {triggers.data?.length === 0 && !creating && <Empty>No triggers yet. Make one with New trigger.</Empty>}
      <ul class="list" aria-label="Triggers">
        {triggers.data?.map((trigger) => (
          <TriggerCard
            key={trigger.id}
            trigger={trigger}
            templateName={templates.data?.find((t) => t.id === trigger.definition.templateId)?.name}
            runsVersion={versions[trigger.id] ?? 0}
            shown={shown?.triggerId === trigger.id ? shown : undefined}
            onChanged={replace}
            onFired={() => bump(trigger.id)}
            onDeleted={() => triggers.set((list) => list?.filter((t) => t.id !== trigger.id))}
            onSecret={(secret) => setShown({ triggerId: trigger.id, path: trigger.webhookPath ?? '', secret })}
            onDismissSecret={() => setShown(undefined)}
          />
        ))}
      </ul>
    </section>
  );
}

function TriggerCard(props: {
  trigger: Trigger;
  templateName: string | undefined;
  runsVersion: number;
  shown: Shown | undefined;
  onChanged: (trigger: Trigger) => void;
  onFired: () => void;
  onDeleted: () => void;
  onSecret: (secret: string) => void;
  onDismissSecret: () => void;
}) {
  const { trigger } = props;
  const params = { params: { id: trigger.id } };
  const headingId = `trigger-${trigger.id}-name`;
  const zone = trigger.definition.schedule?.timezone ?? 'UTC';
  return (
    <li class="card trigger-card" id={`trigger-${trigger.id}`} aria-labelledby={headingId}>
      <div class="row spread">
        <h2 id={headingId} class="card-title">
          {trigger.name}
        </h2>
        <StatusChip status={trigger.status} />
      </div>
      <p class="muted">
        Runs {props.templateName ?? 'its template'}
        {describe(trigger)} · version {trigger.version}
      </p>
      {trigger.pausedReason && <p class="hint">{trigger.pausedReason}</p>}
      {trigger.upcoming.length > 0 && (
        <details>
          <summary>Next run {formatInZone(trigger.upcoming[0]!, zone)}</summary>
          <ol aria-label={`Next runs of ${trigger.name}`}>
            {trigger.upcoming.map((at) => (
              <li key={at}>
                <time dateTime={at}>{formatInZone(at, zone)}</time>
              </li>
            ))}
          </ol>
        </details>
      )}
      {trigger.webhookPath && !props.shown && (
        <p class="hint">
          Deliveries go to <code>{new URL(trigger.webhookPath, window.location.href).toString()}</code>
        </p>
      )}
      {props.shown && <WebhookSecret path={props.shown.path} secret={props.shown.secret} onDismiss={props.onDismissSecret} />}
      <div class="row trigger-actions">
        <ActionButton
          onAction={async () => {
            await api('POST', '/v1/triggers/{id}/fire', params);
            props.onFired();
          }}
        >
          Fire now<span class="visually-hidden">: {trigger.name}</span>
        </ActionButton>
        {trigger.status === 'active' ? (
          <ActionButton onAction={async () => props.onChanged((await api('POST', '/v1/triggers/{id}/pause', params)).trigger)}>
            Pause<span class="visually-hidden">: {trigger.name}</span>
          </ActionButton>
        ) : (
          <ActionButton onAction={async () => props.onChanged((await api('POST', '/v1/triggers/{id}/resume', params)).trigger)}>
            Resume<span class="visually-hidden">: {trigger.name}</span>
          </ActionButton>
        )}
        {trigger.kind === 'webhook' && (
          <ActionButton
            confirm="Make a new secret? The current one keeps working for a grace period."
            onAction={async () => props.onSecret((await api('POST', '/v1/triggers/{id}/secret', params)).secret)}
          >
            Rotate secret<span class="visually-hidden">: {trigger.name}</span>
          </ActionButton>
        )}
        <ActionButton
          class="danger"
          confirm={`Delete "${trigger.name}" and its run history?`}
          onAction={async () => {
            await api('DELETE', '/v1/triggers/{id}', params);
            props.onDeleted();
          }}
        >
          Delete<span class="visually-hidden">: {trigger.name}</span>
        </ActionButton>
      </div>
      <TriggerRuns triggerId={trigger.id} version={props.runsVersion} />
    </li>
  );
}

/** When the trigger runs, in words. */
function describe(trigger: Trigger): string {
  const { schedule, integration } = trigger.definition;
  if (schedule) {
    const when = 'cron' in schedule ? `cron ${schedule.cron}` : `every ${Math.round(schedule.everySeconds / 60)} min`;
    return ` on a schedule (${when}, ${schedule.timezone ?? 'your time zone'})`;
  }
  if (integration) return ` for each new item of ${integration.tool} (looked at every ${Math.round(integration.everySeconds / 60)} min)`;
  return ' on each signed webhook delivery';
}
