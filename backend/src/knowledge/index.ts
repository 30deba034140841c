export { KnowledgeBase, type KnowledgeSettings } from './knowledge-base.ts';
export type { DocumentView } from './document-view.ts';
export type { NewDocument, DocumentText } from './document-store.ts';
export type { ReindexStatus } from './reindexer.ts';
export { KnowledgeSearch, type SearchAnswer, type SearchQuery, type SearchResult, type SearchMode } from './knowledge-search.ts';
export { knowledgeSearchTool } from './knowledge-search-tool.ts';
