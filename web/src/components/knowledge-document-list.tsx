import { useRef } from 'preact/hooks';
import { api, type Answer } from '../api.ts';
import type { KnowledgeDocument } from '../api-shapes.ts';
import { useResource, useTopic } from '../hooks.ts';

type DocumentPage = Answer<'GET', '/v1/knowledge/documents'>;

export interface DocumentList {
  /** Newest first; undefined until the first page arrives. */
  documents: KnowledgeDocument[] | undefined;
  error: unknown;
  hasMore: boolean;
  /** Ids deleted from this page, so results that still name them can be left out. */
  deleted: ReadonlySet<string>;
  loadMore: () => Promise<void>;
  /** Takes in a document the page learned of elsewhere (an upload's answer, a linked document). */
  add: (document: KnowledgeDocument) => void;
  remove: (id: string) => Promise<void>;
}

const pageSize = 25;

/**
 * Newest first, one entry per id. A copy replaces the one held only when it is at least as recent,
 * so an answer that was overtaken on the way (an upload's "pending" after the "completed" event)
 * cannot put an old status back.
 */
function merge(held: KnowledgeDocument[], incoming: KnowledgeDocument[]): KnowledgeDocument[] {
  const byId = new Map(held.map((document) => [document.id, document]));
  for (const document of incoming) {
    const current = byId.get(document.id);
    if (!current || document.updatedAt >= current.updatedAt) byId.set(document.id, document);
  }
  return [...byId.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/**
 * The user's documents as one list that stays true without reloads: pages appended with the
 * cursor, uploads and linked documents merged in, and `kb.document.status` events applied as they
 * come. An event changes the status at once; the document is then fetched for what the event does
 * not carry (chunk count, times), and a document first heard of through an event (uploaded in
 * another tab) joins the list.
 */
export function useDocumentList(): DocumentList {
  const resource = useResource<DocumentPage>((signal) => api('GET', '/v1/knowledge/documents', { query: { limit: pageSize }, signal }), []);
  const { data, set } = resource;
  const deleted = useRef<ReadonlySet<string>>(new Set());

  const absorb = (incoming: KnowledgeDocument[], nextCursor?: string | null) =>
    set((page) => {
      if (!page) return page;
      const kept = incoming.filter((document) => !deleted.current.has(document.id));
      return { documents: merge(page.documents, kept), nextCursor: nextCursor === undefined ? page.nextCursor : nextCursor };
    });

  const refresh = (id: string) =>
    fetchDocument(id).then(
      (document) => absorb([document]),
      // Deleted meanwhile, or the connection dropped: the next event or load brings it right.
      () => undefined,
    );

  useTopic('knowledge', (frame) => {
    if (frame.event !== 'kb.document.status') return;
    const { documentId, status, error } = frame.data;
    const known = data?.documents.some((document) => document.id === documentId);
    set(
      (page) =>
        page && {
          ...page,
          documents: page.documents.map((document) =>
            document.id === documentId ? { ...document, status, error: error ?? null } : document,
          ),
        },
    );
    if (!known || status === 'completed' || status === 'failed') void refresh(documentId);
  });

  return {
    documents: data?.documents,
    error: resource.error,
    hasMore: Boolean(data?.nextCursor),
    deleted: deleted.current,
    async loadMore() {
      const cursor = data?.nextCursor;
      if (!cursor) return;
      const next = await api('GET', '/v1/knowledge/documents', { query: { limit: pageSize, cursor } });
      absorb(next.documents, next.nextCursor);
    },
    add: (document) => absorb([document]),
    async remove(id) {
      await api('DELETE', '/v1/knowledge/documents/{id}', { params: { id } });
      deleted.current = new Set([...deleted.current, id]);
      set((page) => page && { ...page, documents: page.documents.filter((document) => document.id !== id) });
    },
  };
}

/** One document as it is now: what a status event does not carry, or a linked document not among the pages loaded. */
export function fetchDocument(id: string, signal?: AbortSignal): Promise<KnowledgeDocument> {
  return api('GET', '/v1/knowledge/documents/{id}', { params: { id }, ...(signal ? { signal } : {}) }).then(({ document }) => document);
}
