import { expect } from 'vitest';
import type { TestApp } from './test-app.ts';
import { bearer } from './test-app.ts';

/**
 * What a user does when a turn stops for approval: approves each call it waits for, until the
 * turn ends. Answers how the turn ended.
 */
export async function approveUntilEnd(
  t: TestApp,
  options: { sessionId: string; turnId: string; status: string; token?: string | undefined },
): Promise<string> {
  const headers = bearer(options.token ?? t.userToken);
  const deadline = Date.now() + 20_000;
  let { status } = options;
  while (status === 'awaiting_approval' || status === 'running') {
    if (Date.now() > deadline) throw new Error(`the turn is still ${status}`);
    const pending = (await t.app.inject({ method: 'GET', url: `/v1/approvals?sessionId=${options.sessionId}`, headers })).json<{
      approvals: Array<{ callId: string }>;
    }>().approvals;
    for (const { callId } of pending) {
      const approved = await t.app.inject({
        method: 'POST',
        url: `/v1/sessions/${options.sessionId}/approvals/${callId}`,
        headers,
        payload: { action: 'approve' },
      });
      expect(approved.statusCode, approved.body).toBe(200);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    status = (await t.app.inject({ method: 'GET', url: `/v1/turns/${options.turnId}/timeline`, headers })).json<{ status: string }>()
      .status;
  }
  return status;
}
