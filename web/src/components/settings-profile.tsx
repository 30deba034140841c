import { useMemo, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { useUser } from '../app.tsx';
import { useAction } from '../hooks.ts';
import { ErrorNote } from './ui.tsx';

/** The zones this browser knows, plus UTC and the saved one, so the current value is always offered. */
function timeZones(current: string): string[] {
  const zones = new Set(Intl.supportedValuesOf('timeZone'));
  zones.add('UTC');
  zones.add(current);
  return [...zones].sort();
}

/**
 * The signed-in user's name and time zone. The zone is picked from a list, so only a zone the
 * browser knows can be sent; the header shows the new name as soon as the server has it.
 */
export function SettingsProfile() {
  const { user, setUser } = useUser();
  const [name, setName] = useState(user.name);
  const [timezone, setTimezone] = useState(user.timezone);
  const { busy, error, run } = useAction();
  const [saved, setSaved] = useState(false);
  const zones = useMemo(() => timeZones(user.timezone), [user.timezone]);

  const edited = (apply: () => void) => {
    apply();
    setSaved(false);
  };

  const save = async (event: Event) => {
    event.preventDefault();
    setSaved(false);
    await run(async () => {
      const answer = await api('PATCH', '/v1/me', { body: { name, timezone } });
      setUser(answer.user);
      setSaved(true);
    });
  };

  return (
    <form class="card settings-form" onSubmit={save}>
      <p class="muted">Signed in as {user.email}</p>
      <div class="field">
        <label for="profile-name">Name</label>
        <input
          id="profile-name"
          autocomplete="name"
          maxLength={200}
          value={name}
          onInput={(e) => edited(() => setName(e.currentTarget.value))}
        />
      </div>
      <div class="field">
        <label for="profile-timezone">Time zone</label>
        <select
          id="profile-timezone"
          aria-describedby="profile-timezone-hint"
          value={timezone}
          onChange={(e) => edited(() => setTimezone(e.currentTarget.value))}
        >
          {zones.map((zone) => (
            <option key={zone} value={zone}>
              {zone}
            </option>
          ))}
        </select>
        <p class="hint" id="profile-timezone-hint">
          Agents use it for dates and times, such as "today" in a template.
        </p>
      </div>
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save profile'}
        </button>
        <span role="status" class="settings-saved">
          {saved ? 'Saved' : ''}
        </span>
      </div>
      <ErrorNote error={error} />
    </form>
  );
}
