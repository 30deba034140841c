import { useTitle } from '../hooks.ts';

export function AgentsPage() {
  useTitle('Agents');
  return (
    <section>
      <h1>Agents</h1>
    </section>
  );
}
