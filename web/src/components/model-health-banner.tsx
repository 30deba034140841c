import { useEffect, useState } from 'preact/hooks';
import { api, type Answer } from '../api.ts';

type ModelHealth = Answer<'GET', '/health'>['models'];

/** How often the console asks; the server itself checks on its own interval, so more often would show nothing new. */
const pollMs = 60_000;

/**
 * A banner while the default model or the embedding model is down, from the public /health
 * (which only reads the server's last background check). Asked once a minute, and not while the
 * tab is hidden; a failed request shows nothing rather than a false alarm.
 */
export function ModelHealthBanner() {
  const [models, setModels] = useState<ModelHealth | undefined>(undefined);
  useEffect(() => {
    const controller = new AbortController();
    const load = () => {
      if (document.hidden) return;
      api('GET', '/health', { signal: controller.signal }).then(
        (health) => setModels(health.models),
        () => undefined,
      );
    };
    load();
    const timer = setInterval(load, pollMs);
    document.addEventListener('visibilitychange', load);
    return () => {
      controller.abort();
      clearInterval(timer);
      document.removeEventListener('visibilitychange', load);
    };
  }, []);
  const problems = [
    models?.default.status === 'down' && `The default model (${models.default.name}) is not reachable: new turns that use it will fail.`,
    models?.embedding.status === 'down' &&
      `The embedding model (${models.embedding.name}) is not reachable: knowledge search and new documents will fail.`,
  ].filter((text): text is string => Boolean(text));
  return (
    <div role="status" aria-live="polite">
      {problems.length > 0 && (
        <div class="health-banner">
          {problems.map((text) => (
            <p key={text}>{text} An administrator can see why under GET /v1/admin/health.</p>
          ))}
        </div>
      )}
    </div>
  );
}
