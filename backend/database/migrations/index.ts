import type { Migration } from 'kysely';
import * as accounts from './0001-accounts.ts';
import * as events from './0002-events.ts';
import * as knowledge from './0003-knowledge.ts';
import * as templates from './0004-templates.ts';
import * as sessions from './0005-sessions.ts';
import * as messages from './0006-messages.ts';
import * as modelCalls from './0007-model-calls.ts';
import * as durableExecution from './0008-durable-execution.ts';
import * as integrations from './0009-integrations.ts';
import * as oauthClientRegistrations from './0010-oauth-client-registrations.ts';
import * as agentSlugs from './0011-agent-slugs.ts';
import * as sandbox from './0012-sandbox.ts';
import * as estimatedCosts from './0013-estimated-costs.ts';
import * as approvals from './0014-approvals.ts';
import * as contextWindow from './0015-context-window.ts';
import * as triggers from './0016-triggers.ts';
import * as keywordIndexFastupdate from './0017-keyword-index-fastupdate.ts';
import * as vectorExtension from './vector/v0001-vector-extension.ts';
import * as knowledgeEmbeddings from './vector/v0002-knowledge-embeddings.ts';
import * as hnswRecall from './vector/v0003-hnsw-recall.ts';
import * as hnswInsertSpeed from './vector/v0004-hnsw-insert-speed.ts';
import * as hnswRecallAtScale from './vector/v0005-hnsw-recall-at-scale.ts';

/*
 * Every migration, listed explicitly so they load the same way under any runner or bundler.
 * Names sort in the order they apply. Each has up and down.
 *
 * Write them expand-then-contract: a release only adds tables, columns and indexes, and stops
 * using what it replaces; a later release drops what no running version uses any more. An older
 * instance keeps working while a newer one migrates.
 *
 * Two tracks: `core` runs everywhere; `vector` needs the pgvector extension and runs after core,
 * only where the extension is available, so a server without pgvector still gets everything else.
 */
export const coreMigrations: Record<string, Migration> = {
  '0001-accounts': accounts,
  '0002-events': events,
  '0003-knowledge': knowledge,
  '0004-templates': templates,
  '0005-sessions': sessions,
  '0006-messages': messages,
  '0007-model-calls': modelCalls,
  '0008-durable-execution': durableExecution,
  '0009-integrations': integrations,
  '0010-oauth-client-registrations': oauthClientRegistrations,
  '0011-agent-slugs': agentSlugs,
  '0012-sandbox': sandbox,
  '0013-estimated-costs': estimatedCosts,
  '0014-approvals': approvals,
  '0015-context-window': contextWindow,
  '0016-triggers': triggers,
  '0017-keyword-index-fastupdate': keywordIndexFastupdate,
};

export const vectorMigrations: Record<string, Migration> = {
  'v0001-vector-extension': vectorExtension,
  'v0002-knowledge-embeddings': knowledgeEmbeddings,
  'v0003-hnsw-recall': hnswRecall,
  'v0004-hnsw-insert-speed': hnswInsertSpeed,
  'v0005-hnsw-recall-at-scale': hnswRecallAtScale,
};
