import type { HeldTurn } from '../src/sessions/index.ts';
import type { TestApp } from './test-app.ts';

/**
 * A turn of the test user's session opened as the runner opens one, held by the token it got: for
 * tests that write a turn's steps through the turn store directly.
 */
export async function openHeldTurn(t: TestApp, created: { id: string; conversationId: string }): Promise<HeldTurn> {
  const { conversationId } = created;
  const { turn, token, session } = await t.runtime.sessions.turns.open({
    userId: t.userId,
    session: { id: created.id, user_id: t.userId },
    conversationId,
    content: 'Go.',
  });
  return { turnId: turn.id, token, session, conversationId };
}
