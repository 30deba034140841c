import type { Answer } from './api.ts';

/*
 * Names for the shapes the console reads, each taken from the answer of the route that serves it
 * in the server's contract (api-schema.ts, generated from the route schemas). None is written by
 * hand: a field the server renames or drops fails `tsc -p web` where a page reads it.
 */

export type ConsoleSession = Answer<'GET', '/v1/console/session'>;
export type Me = Answer<'GET', '/v1/me'>['user'];

export type TemplateListing = Answer<'GET', '/v1/templates'>['templates'][number];
export type Template = Answer<'GET', '/v1/templates/{id}'>['template'];
export type TemplateVariable = Template['variables'][number];

export type Integration = Answer<'GET', '/v1/integrations'>['integrations'][number];
export type Connection = NonNullable<Integration['connection']>;
export type DiscoveredIntegration = Answer<'POST', '/v1/integrations/discover'>['integrations'][number];
export type DiscoveredTool = DiscoveredIntegration['tools'][number];
export type ToolStats = Answer<'GET', '/v1/integrations/stats'>['tools'][number];
/** Calls starting in one UTC day (`p95Ms` null when there were none). */
export type UsageBucket = Answer<'GET', '/v1/integrations/usage'>['buckets'][number];

export type Session = Answer<'GET', '/v1/sessions'>['sessions'][number];
export type SessionStatus = Session['status'];
export type SessionDetail = Answer<'GET', '/v1/sessions/{id}'>['session'];
export type Checkpoint = Answer<'GET', '/v1/sessions/{id}/checkpoints'>['checkpoints'][number];
export type Conversation = Answer<'GET', '/v1/sessions/{id}/conversations'>['conversations'][number];
export type Message = Answer<'GET', '/v1/conversations/{id}/messages'>['messages'][number];
export type Agent = Answer<'GET', '/v1/agents'>['agents'][number];
export type ModelProvider = Answer<'GET', '/v1/models'>['providers'][number];
export type ListedModel = ModelProvider['models'][number];

export type KnowledgeDocument = Answer<'GET', '/v1/knowledge/documents/{id}'>['document'];
export type DocumentStatus = KnowledgeDocument['status'];
export type SearchResult = Answer<'POST', '/v1/knowledge/search'>['results'][number];

export type ApiToken = Answer<'GET', '/v1/tokens'>['tokens'][number];

export type Approval = Answer<'GET', '/v1/approvals'>['approvals'][number];
export type ApprovalRule = Answer<'GET', '/v1/approval-rules'>['rules'][number];
export type Trigger = Answer<'GET', '/v1/triggers'>['triggers'][number];
export type TriggerInput = Trigger['definition'];
export type TriggerRun = Answer<'GET', '/v1/triggers/{id}/runs'>['runs'][number];
export type Notification = Answer<'GET', '/v1/notifications'>['notifications'][number];
