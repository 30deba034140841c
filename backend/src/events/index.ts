export { createEventSystem, type EventSystem } from './event-system.ts';
export type { EventBus, EventListener } from './event-bus.ts';
export {
  EventStore,
  removeTopicEvents,
  type NewEvent,
  type HistoryQuery,
  type ChangeExpressions,
  type ReturnedExpressions,
} from './event-store.ts';
export { EventFanout, ClientStream, type EventSink, type FlowControl } from './event-fanout.ts';
export { TopicRegistry, type TopicAuthorizer } from './topics.ts';
export { eventDataSchemas, eventTypes, type AgentryEvent, type EventType, type StoredEvent } from './event-types.ts';
