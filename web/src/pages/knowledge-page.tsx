import { useTitle } from '../hooks.ts';

export function KnowledgePage() {
  useTitle('Knowledge');
  return (
    <section>
      <h1>Knowledge</h1>
    </section>
  );
}
