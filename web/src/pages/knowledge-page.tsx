import { useLocation } from 'preact-iso/router';
import { useDocumentList } from '../components/knowledge-document-list.tsx';
import { KnowledgeDocuments } from '../components/knowledge-documents.tsx';
import { KnowledgeSearch } from '../components/knowledge-search.tsx';
import { KnowledgeUpload } from '../components/knowledge-upload.tsx';
import { useTitle } from '../hooks.ts';
import './knowledge-page.css';

/**
 * The knowledge base: upload documents, follow their processing live, search them, delete them.
 * `?doc=<id>` (how chat citations and search results link here) brings one document into view.
 * Everything a document supplies (title, file name, passages) is rendered as text, never as HTML.
 */
export function KnowledgePage() {
  useTitle('Knowledge');
  const { query } = useLocation();
  const list = useDocumentList();
  return (
    <section class="knowledge">
      <h1>Knowledge</h1>
      <p class="hint">Documents added here are split into passages that you and your agents can search.</p>
      <KnowledgeUpload documents={list.documents} onUploaded={list.add} />
      <KnowledgeSearch deleted={list.deleted} />
      <KnowledgeDocuments list={list} target={query.doc} />
    </section>
  );
}
