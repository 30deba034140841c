import { useTitle } from '../hooks.ts';

export function SessionsPage() {
  useTitle('Sessions');
  return (
    <section>
      <h1>Sessions</h1>
    </section>
  );
}
