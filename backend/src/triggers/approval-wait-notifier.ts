import type { ApprovalWaitListener } from '../sessions/index.ts';
import type { NotificationService } from './notification-service.ts';

/** Tool names listed in the notification's text, at most: the console shows every call. */
const namedTools = 5;

/**
 * What the sessions area is told when an unattended run's turn waits for approvals: the user is
 * notified (`run_waiting_approval`, naming the trigger, its firing and the session) in the
 * transaction that makes the turn wait, since no one is watching the run to see its cards. A
 * session no firing started is left alone.
 */
export function approvalWaitNotifier(notifications: NotificationService): ApprovalWaitListener {
  return async (tx, wait) => {
    const firing = await tx
      .selectFrom('trigger_firings as f')
      .innerJoin('triggers as t', 't.id', 'f.trigger_id')
      .select(['f.id', 'f.trigger_id', 't.name'])
      .where('f.session_id', '=', wait.sessionId)
      .executeTakeFirst();
    if (!firing) return;
    const tools = [...new Set(wait.tools)];
    const named = tools.slice(0, namedTools).join(', ') + (tools.length > namedTools ? ` and ${tools.length - namedTools} more` : '');
    await notifications.notify(
      wait.userId,
      {
        kind: 'run_waiting_approval',
        title: `"${firing.name}" waits for your approval`,
        body: tools.length > 0 ? `The run wants to call ${named}; it goes on once you approve or deny.` : '',
        data: { triggerId: firing.trigger_id, firingId: firing.id, sessionId: wait.sessionId, turnId: wait.turnId },
      },
      tx,
    );
  };
}
