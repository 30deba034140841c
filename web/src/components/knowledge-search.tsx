import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { SearchResult } from '../api-shapes.ts';
import { formatNumber } from '../format.ts';
import { useAction } from '../hooks.ts';
import { Highlighted } from './knowledge-highlight.tsx';
import { Empty, ErrorNote } from './ui.tsx';

type Mode = 'hybrid' | 'vector' | 'keyword';

interface Answer {
  /** The query as it was sent: the passages are marked with its words, not with what is typed since. */
  query: string;
  results: SearchResult[];
  /** More passages match than were asked for (the best are shown). */
  hasMore: boolean;
}

const modes: Array<{ value: Mode; label: string }> = [
  { value: 'hybrid', label: 'Hybrid (recommended)' },
  { value: 'vector', label: 'Vector: similar text' },
  { value: 'keyword', label: 'Keyword: the words themselves' },
];

function percent(similarity: number): string {
  return `${Math.round(Math.min(1, Math.max(0, similarity)) * 100)}%`;
}

function ResultEntry({ result, query }: { result: SearchResult; query: string }) {
  return (
    <li class="card knowledge-result">
      <div class="row spread">
        <h3>
          <a href={`/knowledge?doc=${encodeURIComponent(result.documentId)}`}>{result.title}</a>
        </h3>
        <span class="muted">Similarity {percent(result.similarity)}</span>
      </div>
      <p class="knowledge-passage">
        <Highlighted text={result.content} query={query} />
      </p>
    </li>
  );
}

function Results({ query, results }: { query: string; results: SearchResult[] }) {
  if (results.length === 0) return <Empty>Try other words or another way of matching, or upload a document that covers it.</Empty>;
  return (
    <ol class="list knowledge-results" aria-label="Search results">
      {results.map((result) => (
        <ResultEntry key={result.chunkId} result={result} query={query} />
      ))}
    </ol>
  );
}

function summary(query: string, count: number, hasMore: boolean): string {
  if (count === 0) return `No passages match “${query}”.`;
  const found = `${count === 1 ? '1 passage' : `${formatNumber(count)} passages`} found for “${query}”`;
  return hasMore ? `The best ${found}; more match less closely.` : `${found}.`;
}

/**
 * Search the documents on submit only (the server allows a user 60 searches a minute), and show
 * each passage with its document, how similar it is, and the query's words marked.
 */
export function KnowledgeSearch({ deleted }: { deleted: ReadonlySet<string> }) {
  const [text, setText] = useState('');
  const [mode, setMode] = useState<Mode>('hybrid');
  const { busy, error, run } = useAction();
  const [answer, setAnswer] = useState<Answer>();

  // Passages of documents deleted since the search are left out rather than linking nowhere.
  const shown = answer?.results.filter((result) => !deleted.has(result.documentId)) ?? [];

  const submit = async (event: Event) => {
    event.preventDefault();
    const query = text.trim();
    if (!query) return;
    await run(async () => {
      const found = await api('POST', '/v1/knowledge/search', { body: { query, mode } });
      setAnswer({ query, ...found });
    });
  };

  return (
    <section aria-labelledby="knowledge-search-heading">
      <h2 id="knowledge-search-heading">Search</h2>
      <form role="search" class="knowledge-search-form" onSubmit={submit}>
        <div class="field knowledge-query">
          <label for="knowledge-query">Search your documents</label>
          <input id="knowledge-query" type="search" required value={text} onInput={(event) => setText(event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="knowledge-mode">Matching</label>
          <select id="knowledge-mode" value={mode} onChange={(event) => setMode(event.currentTarget.value as Mode)}>
            {modes.map((option) => (
              <option key={option.value} value={option.value}>
                {option.label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Searching…' : 'Search'}
        </button>
      </form>
      <ErrorNote error={error} />
      <p role="status" class="muted">
        {answer && summary(answer.query, shown.length, answer.hasMore)}
      </p>
      {answer && <Results query={answer.query} results={shown} />}
    </section>
  );
}
