export { KnowledgeBase, type KnowledgeSettings, type DocumentView, type NewDocument, type ReindexStatus } from './knowledge-base.ts';
export { KnowledgeSearch, type SearchQuery, type SearchResult, type SearchMode } from './knowledge-search.ts';
export { knowledgeSearchTool } from './knowledge-search-tool.ts';
