import { formatDuration } from '../format.ts';
import { JsonDetails, StatusChip } from './ui.tsx';

export interface ToolCallView {
  tool: string;
  status: 'running' | 'ok' | 'failed';
  durationMs?: number | null | undefined;
  arguments?: unknown;
  result?: unknown;
  error?: { code: string; message: string } | undefined;
}

const statusLabels = { running: 'running', ok: 'done', failed: 'failed' } as const;

/** A tool call as it starts and finishes: its name, status and duration; arguments and result on demand. */
export function ToolCall({ call }: { call: ToolCallView }) {
  const citations = call.tool === 'knowledge_search' ? citationsOf(call.result) : [];
  return (
    <div class="tool-call" data-tool={call.tool} data-status={call.status}>
      <div class="row">
        <span class="tool-name">
          <span aria-hidden="true">⚙ </span>
          {call.tool}
        </span>
        <StatusChip status={call.status === 'ok' ? 'completed' : call.status} label={statusLabels[call.status]} />
        {call.durationMs !== undefined && call.durationMs !== null && <span class="muted">{formatDuration(call.durationMs)}</span>}
      </div>
      {call.error && <p class="error-note">{call.error.message}</p>}
      {call.arguments !== undefined && <JsonDetails summary="Arguments" value={call.arguments} />}
      {call.result !== undefined && call.result !== null && <JsonDetails summary="Result" value={call.result} />}
      {citations.length > 0 && (
        <p class="citations">
          Sources:{' '}
          {citations.map((citation, index) => (
            <span key={citation.documentId}>
              {index > 0 && ', '}
              <a href={`/knowledge?doc=${encodeURIComponent(citation.documentId)}`}>{citation.title || 'untitled document'}</a>
            </span>
          ))}
        </p>
      )}
    </div>
  );
}

/** The documents a knowledge search returned passages from, each once, in rank order. */
function citationsOf(result: unknown): Array<{ documentId: string; title: string }> {
  let value = result;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return [];
    }
  }
  const results = (value as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) return [];
  const seen = new Map<string, string>();
  for (const item of results as Array<{ documentId?: unknown; title?: unknown }>) {
    if (typeof item?.documentId === 'string' && !seen.has(item.documentId))
      seen.set(item.documentId, typeof item.title === 'string' ? item.title : '');
  }
  return [...seen].map(([documentId, title]) => ({ documentId, title }));
}
