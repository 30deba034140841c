import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../../test/test-app.ts';

const run = promisify(execFile);
/** The MCP Inspector's command-line client (v1), run from its own folder so it finds its package.json. */
const inspectorDir = fileURLToPath(new URL('../../../node_modules/@modelcontextprotocol/inspector-cli/build/', import.meta.url));

/** Agentry's MCP server, used by two independent MCP clients against the real app on 127.0.0.1. */
describe('the MCP endpoint', () => {
  let t: TestApp;
  let url: string;
  let userDocument: string;
  let adminDocument: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    t = await createTestApp('pglite');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}/mcp`;
    const upload = async (token: string, title: string, content: string) => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/v1/knowledge/documents',
        headers: bearer(token),
        payload: { title, content },
      });
      expect(response.statusCode, response.body).toBe(202);
      return response.json().document.id as string;
    };
    userDocument = await upload(
      t.userToken,
      'Refund policy',
      'Refunds are paid within 14 days of a written request. Gift cards are not refundable.',
    );
    adminDocument = await upload(t.adminToken, 'Acquisition plan', 'The board plans to acquire a bakery in spring.');
    await t.runtime.knowledge.idle();
  });
  afterAll(async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    await t.close();
  });

  const connect = async (token = t.userToken) => {
    const client = new Client({ name: 'agentry-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: bearer(token) } }));
    clients.push(client);
    return client;
  };
  // Results are read loosely, as a script would; the assertions say what they must hold.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Loose = Record<string, any>;
  const call = async (client: Client, name: string, args: Record<string, unknown>) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult & { structuredContent?: Loose };
  const errorText = (result: CallToolResult) => (result.content[0] as { text: string }).text;
  const sessionCount = async () =>
    Number(
      (
        await t.runtime.database.db
          .selectFrom('agent_sessions')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('user_id', '=', t.userId)
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('lists its four tools with truthful annotations', async () => {
    const { tools } = await (await connect()).listTools();
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
    expect(Object.keys(byName).sort()).toEqual(['knowledge_search', 'list_workflows', 'run_workflow', 'session_status']);
    expect(byName.knowledge_search!.annotations).toMatchObject({ readOnlyHint: true });
    expect(byName.session_status!.annotations).toMatchObject({ readOnlyHint: true });
    expect(byName.run_workflow!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: false });
    expect(byName.run_workflow!.inputSchema.required).toEqual(['slug']);
  });

  it("searches the caller's own documents only", async () => {
    const client = await connect();
    const found = await call(client, 'knowledge_search', { query: 'how long do refunds take', limit: 3 });
    expect(found.isError).toBeFalsy();
    expect(found.structuredContent!.results[0]).toMatchObject({ documentId: userDocument, title: 'Refund policy' });
    const other = await call(client, 'knowledge_search', { query: 'acquire a bakery', mode: 'keyword' });
    expect(other.structuredContent!.results.map((r: { documentId: string }) => r.documentId)).not.toContain(adminDocument);
  });

  it('lists the workflows with their variables and whether their integrations are connected', async () => {
    const { workflows } = (await call(await connect(), 'list_workflows', {})).structuredContent as { workflows: Loose[] };
    const qa = workflows.find((w) => w.slug === 'document-qa');
    expect(qa).toMatchObject({ available: true, missingIntegrations: [] });
    expect(qa!.variables).toContainEqual(expect.objectContaining({ name: 'question', type: 'string', required: true }));
    const triage = workflows.find((w) => w.slug === 'email-triage');
    expect(triage!.available).toBe(false);
    expect(triage!.missingIntegrations.length).toBeGreaterThan(0);
  });

  it('runs a workflow to its answer, and tells its status afterwards', async () => {
    const client = await connect();
    // The offline responder searches for a message that reads as a question; the template's own
    // opening (the default) holds the question inside a <value> element.
    const ran = await call(client, 'run_workflow', {
      slug: 'document-qa',
      variables: { question: 'How long do refunds take?' },
      message: 'How long do refunds take?',
      timeoutSeconds: 60,
    });
    expect(ran.isError, errorText(ran)).toBeFalsy();
    expect(ran.structuredContent).toMatchObject({ status: 'completed', done: true });
    expect(ran.structuredContent!.answer).toContain('Refunds are paid within 14 days');
    const sessionId = ran.structuredContent!.sessionId as string;

    const status = await call(client, 'session_status', { sessionId });
    expect(status.structuredContent).toMatchObject({ sessionId, status: 'completed', turn: 'idle', answer: ran.structuredContent!.answer });
    // Another user cannot see it.
    const foreign = await call(await connect(t.adminToken), 'session_status', { sessionId });
    expect(foreign.isError).toBe(true);
    expect(errorText(foreign)).toMatch(/^SESSION_NOT_FOUND/);
  });

  it('answers a run that is not done within its timeout with the session id and status', async () => {
    const ran = await call(await connect(), 'run_workflow', {
      slug: 'document-qa',
      variables: { question: 'Gift cards?' },
      timeoutSeconds: 0,
    });
    expect(ran.isError).toBeFalsy();
    expect(ran.structuredContent).toMatchObject({ status: 'running', done: false, sessionId: expect.any(String) });
    await expect
      .poll(
        async () =>
          (await call(await connect(), 'session_status', { sessionId: ran.structuredContent!.sessionId })).structuredContent!.turn,
      )
      .toBe('idle');
  });

  it('refuses bad arguments with clear errors, and a refused run leaves no session', async () => {
    const client = await connect();
    const before = await sessionCount();
    const missing = await call(client, 'run_workflow', { slug: 'document-qa', variables: {} });
    expect(missing.isError).toBe(true);
    expect(errorText(missing)).toMatch(/^MISSING_VARIABLES: .*question/);
    const unconnected = await call(client, 'run_workflow', { slug: 'email-triage', variables: {} });
    expect(errorText(unconnected)).toMatch(/^INTEGRATIONS_MISSING/);
    const unknown = await call(client, 'run_workflow', { slug: 'no-such-workflow' });
    expect(errorText(unknown)).toMatch(/^TEMPLATE_NOT_FOUND/);
    const tooLong = await call(client, 'run_workflow', { slug: 'document-qa', variables: { question: 'x' }, timeoutSeconds: 500 });
    expect(tooLong.isError).toBe(true);
    expect(errorText(tooLong)).toMatch(/timeoutSeconds/);
    expect(await sessionCount()).toBe(before);

    const badLimit = await call(client, 'knowledge_search', { query: 'refunds', limit: 1000 });
    expect(badLimit.isError).toBe(true);
    expect(errorText(badLimit)).toMatch(/limit/);
    const empty = await call(client, 'knowledge_search', { query: '   ' });
    expect(errorText(empty)).toMatch(/must not be empty at query/);
    const notAnId = await call(client, 'session_status', { sessionId: 'not-an-id' });
    expect(errorText(notAnId)).toMatch(/sessionId/);
  });

  it("lists and reads the caller's documents as resources, and not another user's", async () => {
    const client = await connect();
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual([`agentry://documents/${userDocument}`]);
    expect(resources[0]).toMatchObject({ name: 'Refund policy', mimeType: 'text/plain' });
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((r) => r.uriTemplate)).toEqual(['agentry://documents/{id}']);

    const read = await client.readResource({ uri: `agentry://documents/${userDocument}` });
    expect(read.contents[0]).toMatchObject({ mimeType: 'text/plain', text: expect.stringContaining('Refunds are paid within 14 days') });
    await expect(client.readResource({ uri: `agentry://documents/${adminDocument}` })).rejects.toMatchObject({ code: -32002 });
    await expect(client.listResources({ cursor: 'not a cursor' })).rejects.toThrow(/cursor is not valid/);
  });

  it('refuses a missing or bad token with 401 and WWW-Authenticate: Bearer, and GET with 405', async () => {
    const message = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    for (const auth of [{}, bearer('agt_not-a-real-token')]) {
      const response = await fetch(url, { method: 'POST', headers: { ...headers, ...auth }, body: JSON.stringify(message) });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    await expect(connect('agt_not-a-real-token')).rejects.toThrow();
    const get = await fetch(url, { headers: { ...bearer(t.userToken), accept: 'text/event-stream' } });
    expect(get.status).toBe(405);
    expect(((await get.json()) as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED');
    const batch = await fetch(url, {
      method: 'POST',
      headers: { ...headers, ...bearer(t.userToken) },
      body: JSON.stringify([message, message]),
    });
    expect(batch.status).toBe(400);
  });

  it("answers the MCP Inspector's command-line client too", async () => {
    const inspect = async (...args: string[]) => {
      const { stdout } = await run(
        process.execPath,
        ['index.js', url, '--transport', 'http', '--header', `Authorization: Bearer ${t.userToken}`, ...args],
        { cwd: inspectorDir, timeout: 30_000 },
      );
      return JSON.parse(stdout);
    };
    const listed = await inspect('--method', 'tools/list');
    expect(listed.tools.map((tool: { name: string }) => tool.name)).toContain('run_workflow');
    const searched = await inspect(
      '--method',
      'tools/call',
      '--tool-name',
      'knowledge_search',
      '--tool-arg',
      'query=gift cards',
      '--tool-arg',
      'limit=2',
    );
    expect(searched.isError).toBeFalsy();
    expect(searched.structuredContent.results[0].title).toBe('Refund policy');
    const read = await inspect('--method', 'resources/read', '--uri', `agentry://documents/${userDocument}`);
    expect(read.contents[0].text).toContain('Gift cards are not refundable');
  });
});
