import type { Executor } from '../database/index.ts';
import type { AgentryEvent, ChangeExpressions, EventBus } from '../events/index.ts';

/** The topic a session's events go out on; its owner may subscribe. */
export const sessionTopic = (sessionId: string) => `session:${sessionId}`;

/**
 * Publishes events on the session's topic to its owner, inside `tx`, so they go out only if the
 * change they announce commits.
 */
export async function publishSessionEvents(
  bus: EventBus,
  tx: Executor,
  options: { session: { id: string; user_id: string }; events: readonly AgentryEvent[]; after?: ChangeExpressions },
): Promise<void> {
  const { session, events, after } = options;
  const published = events.map((event) => ({ userId: session.user_id, topic: sessionTopic(session.id), event }));
  await bus.publishWith(tx, published, after ? { after } : {});
}
