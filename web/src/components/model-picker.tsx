import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { ListedModel } from '../api-shapes.ts';
import { useResource } from '../hooks.ts';

const other = '__other__';

/** "200k tokens · $3 / $15 per M": what sets a model apart when choosing one. */
function describe(model: ListedModel): string {
  const window = model.contextWindow ? `${Math.round(model.contextWindow / 1000)}k tokens` : undefined;
  const price = model.priceEstimated
    ? 'no price set'
    : model.price.input === 0 && model.price.output === 0
      ? 'free'
      : `$${model.price.input} / $${model.price.output} per M`;
  return [window, price].filter(Boolean).join(' · ');
}

/**
 * The model an agent uses, picked from what the installation offers (GET /v1/models, grouped by
 * provider), with a free-text id for a model the list does not name (any model of a configured
 * provider works). Empty means the server's default. Without the list, only the text field shows.
 */
export function ModelPicker({ id, value, onChange }: { id: string; value: string; onChange: (model: string) => void }) {
  const listing = useResource((signal) => api('GET', '/v1/models', { signal }), []);
  const [typing, setTyping] = useState(false);
  const providers = listing.data?.providers ?? [];
  const listed = providers.flatMap((p) => p.models.map((m) => m.id));
  const typed = typing || (value !== '' && listing.data !== undefined && !listed.includes(value)) || listing.error !== undefined;

  return (
    <>
      {listing.data ? (
        <select
          id={id}
          aria-describedby={`${id}-hint`}
          value={typed ? other : value}
          onChange={(e) => {
            const choice = e.currentTarget.value;
            setTyping(choice === other);
            if (choice !== other) onChange(choice);
          }}
        >
          <option value="">Server default ({listing.data.defaultModel})</option>
          {providers.map((provider) => (
            <optgroup
              key={provider.provider}
              label={provider.status === 'ok' ? provider.provider : `${provider.provider} (unreachable)`}
              disabled={provider.status !== 'ok'}
            >
              {provider.models.map((model) => (
                <option key={model.id} value={model.id}>
                  {model.id} · {describe(model)}
                </option>
              ))}
            </optgroup>
          ))}
          <option value={other}>Another model (type its id)…</option>
        </select>
      ) : null}
      {typed || !listing.data ? (
        <input
          id={listing.data ? `${id}-id` : id}
          aria-label={listing.data ? 'Model id' : undefined}
          spellcheck={false}
          placeholder="provider:model"
          aria-describedby={`${id}-hint`}
          value={value}
          onInput={(e) => onChange(e.currentTarget.value)}
        />
      ) : null}
      <p class="hint" id={`${id}-hint`}>
        Pick from what this server offers, or choose “Another model” for any <code>provider:model</code> of a configured provider, such as{' '}
        <code>openai:gpt-4o-mini</code>. Models without a price count toward the spend limit at the default price.
      </p>
    </>
  );
}
