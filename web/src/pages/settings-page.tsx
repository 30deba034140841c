import { useTitle } from '../hooks.ts';

export function SettingsPage() {
  useTitle('Settings');
  return (
    <section>
      <h1>Settings</h1>
    </section>
  );
}
