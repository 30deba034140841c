import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../backend/test/test-app.ts';
import { AgentryApiError, AgentryStreamError, createAgentryClient, unwrap } from '../src/index.ts';

const run = promisify(execFile);
const example = fileURLToPath(new URL('../examples/upload-and-run.ts', import.meta.url));

/** The script client against the real server, as a user runs it. */
describe('the TypeScript client', () => {
  let t: TestApp;
  let baseUrl: string;
  beforeAll(async () => {
    t = await createTestApp('pglite');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => t.close());

  it('runs the README example: uploads, starts a workflow and prints its streamed answer', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', example], {
      env: { ...process.env, AGENTRY_URL: baseUrl, AGENTRY_TOKEN: t.userToken },
      timeout: 60_000,
    });
    expect(stdout).toContain('Refunds are paid within 14 days');
    expect(stdout).toContain('Refund policy');
    expect(stdout.trimEnd()).toMatch(/\[turn completed\]$/);
  });

  it('types answers and errors from the API contract', async () => {
    const agentry = createAgentryClient({ baseUrl, token: t.userToken });
    const { data } = await agentry.GET('/v1/me');
    expect(data!.user.id).toBe(t.userId);
    const missing = unwrap(agentry.GET('/v1/sessions/{id}', { params: { path: { id: '00000000-0000-4000-8000-000000000000' } } }));
    await expect(missing).rejects.toBeInstanceOf(AgentryApiError);
    await expect(missing).rejects.toMatchObject({ status: 404, code: 'SESSION_NOT_FOUND' });
  });

  it('ends the event stream with the reason when the token is refused', async () => {
    const events = createAgentryClient({ baseUrl, token: 'agt_not-a-real-token' }).events({ topics: ['knowledge'] });
    const read = async () => {
      for await (const frame of events) return frame;
    };
    await expect(read()).rejects.toBeInstanceOf(AgentryStreamError);
  });
});
