import { useTitle } from '../hooks.ts';

export function IntegrationsPage() {
  useTitle('Integrations');
  return (
    <section>
      <h1>Integrations</h1>
    </section>
  );
}
