import fs from 'node:fs';
import type { KnowledgeBase, KnowledgeSearch, SearchMode } from '../src/knowledge/index.ts';

/**
 * The labelled retrieval set (backend/test/retrieval-set.json): short documents on varied topics
 * and queries that list the documents they should find, with word-form variants, typos and
 * partial-word overlap. Committed before any tuning; the quality test and the benchmark share it.
 */
export interface RetrievalSet {
  documents: Array<{ id: string; title: string; content: string }>;
  queries: Array<{ query: string; relevant: string[]; kind: string }>;
}

export const retrievalSet: RetrievalSet = JSON.parse(
  fs.readFileSync(new URL('./retrieval-set.json', import.meta.url), 'utf8'),
) as RetrievalSet;

/** Loads the set for `userId`; returns the stored document id of each labelled id. */
export async function loadRetrievalSet(knowledge: KnowledgeBase, userId: string): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const doc of retrievalSet.documents) {
    const { document } = await knowledge.create(userId, { bytes: Buffer.from(doc.content), title: doc.title, fileName: `${doc.id}.txt` });
    ids.set(document.id, doc.id);
  }
  await knowledge.idle();
  return ids;
}

export interface RetrievalScores {
  mode: SearchMode;
  recallAt5: number;
  mrrAt10: number;
  /** Queries whose first relevant document is not in the top 5. */
  misses: string[];
}

export async function scoreRetrieval(
  search: KnowledgeSearch,
  userId: string,
  ids: Map<string, string>,
  mode: SearchMode,
): Promise<RetrievalScores> {
  let recall = 0;
  let mrr = 0;
  const misses: string[] = [];
  for (const { query, relevant } of retrievalSet.queries) {
    const { results } = await search.search(userId, { query, limit: 30, threshold: 0, mode });
    const ranked = [...new Set(results.map((r) => ids.get(r.documentId)))].filter((id): id is string => id !== undefined);
    recall += relevant.filter((id) => ranked.slice(0, 5).includes(id)).length / relevant.length;
    const first = ranked.slice(0, 10).findIndex((id) => relevant.includes(id));
    mrr += first >= 0 ? 1 / (first + 1) : 0;
    if (first < 0 || first >= 5) misses.push(`${query} → ${ranked.slice(0, 3).join(',')} (want ${relevant.join(',')})`);
  }
  const n = retrievalSet.queries.length;
  return { mode, recallAt5: recall / n, mrrAt10: mrr / n, misses };
}
