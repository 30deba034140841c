import { useEffect, useRef, useState } from 'preact/hooks';
import type { DocumentStatus, KnowledgeDocument } from '../api-shapes.ts';
import { formatBytes, formatNumber, formatTime } from '../format.ts';
import { fetchDocument, type DocumentList } from './knowledge-document-list.tsx';
import { ActionButton, Empty, ErrorNote, Loading, StatusChip } from './ui.tsx';

const statusLabels: Record<DocumentStatus, string> = {
  pending: 'Pending',
  processing: 'Processing',
  completed: 'Completed',
  failed: 'Failed',
};

/** A document's processing status in the words the page uses everywhere. */
export function DocumentStatusChip({ status }: { status: DocumentStatus }) {
  return <StatusChip status={status} label={statusLabels[status]} />;
}

/** The element id of a document's entry, which `?doc=<id>` links scroll to. */
function entryId(id: string): string {
  return `document-${id}`;
}

function passages(count: number): string {
  return count === 1 ? '1 passage' : `${formatNumber(count)} passages`;
}

function DocumentEntry({
  item,
  targeted,
  onDelete,
}: {
  item: KnowledgeDocument;
  targeted: boolean;
  onDelete: (id: string) => Promise<void>;
}) {
  return (
    <li
      id={entryId(item.id)}
      class={`card knowledge-document${targeted ? ' is-target' : ''}`}
      tabIndex={-1}
      aria-current={targeted ? 'true' : undefined}
    >
      <div class="row spread knowledge-document-head">
        <h3>{item.title}</h3>
        <DocumentStatusChip status={item.status} />
      </div>
      <p class="muted knowledge-meta">
        <span>{item.fileName ?? 'Added as text'}</span>
        <span>{formatBytes(item.sizeBytes)}</span>
        {item.status === 'completed' && <span>{passages(item.chunkCount)}</span>}
        <span>
          Added <time dateTime={item.createdAt}>{formatTime(item.createdAt)}</time>
        </span>
      </p>
      {item.error && <p class="error-note">{item.error.message}</p>}
      <ActionButton
        class="danger"
        label={`Delete ${item.title}`}
        confirm={`Delete “${item.title}”? Search will no longer find its passages.`}
        onAction={() => onDelete(item.id)}
      >
        Delete
      </ActionButton>
    </li>
  );
}

/**
 * Brings the document a `?doc=<id>` link names into view once, and focuses it so keyboard and
 * screen-reader users land there too. A document older than the pages loaded is fetched and merged
 * in; one that no longer exists is said so.
 */
function useLinkedDocument(list: DocumentList, target: string | undefined): unknown {
  const [error, setError] = useState<unknown>();
  const shown = useRef<string | undefined>(undefined);
  const loaded = list.documents !== undefined;
  const present = Boolean(target && list.documents?.some((document) => document.id === target));

  // Asked once the first page is in: a document merged in later makes `present` true without a new fetch.
  useEffect(() => {
    setError(undefined);
    if (!target || !loaded || present) return;
    const controller = new AbortController();
    fetchDocument(target, controller.signal).then(list.add, (failure: unknown) => !controller.signal.aborted && setError(failure));
    return () => controller.abort();
  }, [target, loaded]);

  useEffect(() => {
    if (!target || !present || shown.current === target) return;
    shown.current = target;
    const element = document.getElementById(entryId(target));
    element?.scrollIntoView({ block: 'center' });
    element?.focus({ preventScroll: true });
  }, [target, present]);

  return error;
}

/** The documents, newest first, with their live status, a way to delete each, and more on request. */
export function KnowledgeDocuments({ list, target }: { list: DocumentList; target: string | undefined }) {
  const linkError = useLinkedDocument(list, target);
  const heading = useRef<HTMLHeadingElement>(null);
  // The deleted entry took the focus with it; the list's heading is the nearest place to resume.
  const remove = async (id: string) => {
    await list.remove(id);
    heading.current?.focus();
  };
  return (
    <section aria-labelledby="knowledge-documents-heading">
      <h2 id="knowledge-documents-heading" ref={heading} tabIndex={-1}>
        Documents
      </h2>
      <ErrorNote error={linkError} prefix="The linked document cannot be shown" />
      {list.documents === undefined && (list.error ? <ErrorNote error={list.error} /> : <Loading label="Loading documents…" />)}
      {list.documents?.length === 0 && <Empty>No documents yet. Upload one above to make it searchable.</Empty>}
      {list.documents && list.documents.length > 0 && (
        <ul class="list knowledge-documents">
          {list.documents.map((item) => (
            <DocumentEntry key={item.id} item={item} targeted={item.id === target} onDelete={remove} />
          ))}
        </ul>
      )}
      {list.hasMore && (
        <div class="knowledge-more">
          <ActionButton onAction={list.loadMore}>Load more</ActionButton>
        </div>
      )}
    </section>
  );
}
