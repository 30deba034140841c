import type { UserService } from '../accounts/index.ts';
import type { AgentRunner } from '../agent/index.ts';
import { AppError } from '../errors.ts';
import type { SessionService } from '../sessions/index.ts';

/** What a firing asks to run, as its trigger's version says. */
export interface LaunchRequest {
  userId: string;
  firingId: string;
  triggerName: string;
  templateId?: string | undefined;
  agentId?: string | undefined;
  variables: Record<string, unknown>;
}

/**
 * Starts a firing's run: its session and its first turn, which then runs in the background like
 * any turn (leased, recovered after a crash). The port the firing starter calls, so its tests can
 * count what starts.
 */
export interface RunLauncher {
  /** Idempotent per firing: a second call (after a crash) finds what the first made and goes on from there. */
  launch(request: LaunchRequest): Promise<{ sessionId: string }>;
  /** The run's final answer, for the notification that it finished. */
  answer(userId: string, sessionId: string): Promise<string | undefined>;
}

/**
 * The launcher over the session service and the agent runner. The session is made with the
 * firing's id (unique on the session row) and marked unattended; its first message is the
 * template's own prompt. Each step checks what is already there, so a start cut short by a crash
 * at any point is completed by the next attempt, and nothing is made twice.
 */
export function sessionRunLauncher(deps: { users: UserService; sessions: SessionService; runner: AgentRunner }): RunLauncher {
  const { users, sessions, runner } = deps;
  return {
    async launch(request) {
      const owner = await users.get(request.userId);
      if (owner.disabled) throw new AppError('FORBIDDEN', 'The trigger belongs to a disabled user.');
      const user = { id: owner.id, name: owner.name, timezone: owner.timezone };
      let session = await sessions.ofTriggerFiring(request.firingId);
      if (!session) {
        try {
          const created = await sessions.create(user, {
            templateId: request.templateId,
            agentId: request.agentId,
            variables: request.variables,
            triggerFiringId: request.firingId,
          });
          session = {
            id: created.session.id,
            conversationId: created.session.conversationId,
            hasTurn: false,
            userPrompt: created.session.userPrompt,
          };
        } catch (error) {
          // Another attempt made it meanwhile (the unique firing id): go on with that one.
          session = await sessions.ofTriggerFiring(request.firingId);
          if (!session) throw error;
        }
      }
      if (!session.hasTurn) {
        if (!session.conversationId) throw new AppError('INTERNAL', 'A new session has no conversation.');
        await runner.send(user, session.conversationId, session.userPrompt ?? `Run "${request.triggerName}".`);
      }
      return { sessionId: session.id };
    },
    async answer(userId, sessionId) {
      return (await runner.latestAnswer(userId, sessionId))?.content ?? undefined;
    },
  };
}
