import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runEntry, startServer, type ServerProcess } from '../test/server-process.ts';

/** The server as a user runs it: `npm start` on an embedded data directory. */
describe('the server process on the embedded default', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-main-'));
  const env = { AGENTRY_DATA_DIR: dataDir };
  let server: ServerProcess | undefined;
  let adminToken = '';

  afterAll(async () => {
    server?.child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const get = (url: string, token?: string) => fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});

  it('on first start creates the admin, prints the token once on a line of its own, and serves', async () => {
    server = await startServer(env);
    const match = /^Admin token: (agt_[A-Za-z0-9_-]{43})$/m.exec(server.output());
    expect(match).not.toBeNull();
    adminToken = match![1]!;
    const me = await get(`${server.url}/v1/me`, adminToken);
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: unknown }).user).toMatchObject({ email: 'admin@localhost', admin: true });
    const health = await (await get(`${server.url}/health`)).json();
    expect(health).toMatchObject({ status: 'ok', database: { driver: 'pglite', ok: true }, migrations: { pending: 0 } });
    expect(fs.statSync(path.join(dataDir, 'secret.key')).mode & 0o777).toBe(0o600);
    // The token never reaches a log line.
    expect(server.output().split(adminToken).length - 1).toBe(1);
  });

  it('ingests a folder from the CLI with progress, and searches it', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-ingest-'));
    try {
      fs.writeFileSync(
        path.join(folder, 'kayaks.md'),
        '# Sea kayaks\n\nA sea kayak tracks straight thanks to its long waterline and skeg.',
      );
      fs.mkdirSync(path.join(folder, 'more'));
      fs.writeFileSync(path.join(folder, 'more', 'bees.txt'), 'Beekeepers smoke the hive entrance before opening the brood box.');
      fs.writeFileSync(path.join(folder, 'more', 'ignored.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
      const cli = { ...env, AGENTRY_TOKEN: adminToken };
      const ingest = runEntry('cli', ['kb', 'ingest', folder, '--url', server!.url, '--tags', 'outdoors'], cli);
      expect((await ingest.exited).code).toBe(0);
      expect(ingest.output()).toMatch(/Ingested 2 of 2 documents/);
      expect(ingest.output()).toMatch(/2\/2 documents/);
      const search = runEntry('cli', ['kb', 'search', 'beekeeping hive smoke', '--url', server!.url], cli);
      expect((await search.exited).code).toBe(0);
      expect(search.output()).toMatch(/^1\. bees\.txt/m);
      const reindex = runEntry('cli', ['kb', 'reindex', '--url', server!.url], cli);
      expect((await reindex.exited).code).toBe(0);
      expect(reindex.output()).toMatch(/Nothing to do.*local:hashing/);
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it('refuses a second process on the same data directory and leaves the first untouched', async () => {
    const second = runEntry('main', [], { ...env, PORT: '0' });
    const { code } = await second.exited;
    expect(code).toBe(1);
    expect(second.output()).toMatch(/DATABASE_LOCKED: The data directory is in use by another Agentry process/);
    expect((await get(`${server!.url}/v1/me`, adminToken)).status).toBe(200);

    const cli = runEntry('cli', ['users', 'token', '--email', 'admin@localhost'], env);
    expect((await cli.exited).code).toBe(1);
    expect(cli.output()).toMatch(/DATABASE_LOCKED/);
  });

  it('stops cleanly on SIGTERM: exit 0, the lock released', async () => {
    server!.child.kill('SIGTERM');
    const { code } = await server!.exited;
    expect(code).toBe(0);
    expect(server!.output()).toMatch(/stopped/);
    expect(fs.existsSync(path.join(dataDir, 'pglite.lock'))).toBe(false);
  });

  it('keeps everything across a restart, backs up before migrating, and prints no second admin token', async () => {
    // Leave one migration unapplied, as an upgrade to a release with a new migration would.
    const down = runEntry('cli', ['migrate', 'down'], env);
    expect((await down.exited).code).toBe(0);
    expect(down.output()).toMatch(/reverted v0005-hnsw-recall-at-scale/);

    server = await startServer(env);
    expect(server.output()).not.toMatch(/Admin token/);
    expect((await get(`${server.url}/v1/me`, adminToken)).status).toBe(200);
    const backups = fs.readdirSync(path.join(dataDir, 'backups'));
    expect(backups).toHaveLength(1);
    expect(fs.readFileSync(path.join(dataDir, 'backups', backups[0]!), 'utf8')).toMatch(/admin@localhost/);
    expect(((await (await get(`${server.url}/health`)).json()) as { migrations: { pending: number } }).migrations.pending).toBe(0);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  it('killed mid-turn, resumes the turn as soon as it starts again, running the tool call once', async () => {
    const effectLog = path.join(dataDir, 'effects.jsonl');
    fs.writeFileSync(effectLog, '');
    const tools = { CUSTOM_TOOLS: 'backend/test/fixtures/durable-effect-tools.ts', EFFECT_LOG: effectLog };
    const doomed = await startServer({ ...env, ...tools, FAULT_INJECTION_KILL_AT: 'after-tool' });
    const post = (base: string, url: string, body: unknown) =>
      fetch(`${base}${url}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const { session } = (await (await post(doomed.url, '/v1/sessions', {})).json()) as { session: { id: string; conversationId: string } };
    expect(
      (await post(doomed.url, `/v1/conversations/${session.conversationId}/messages`, { content: '/tool charge_card {"label": "once"}' }))
        .status,
    ).toBe(202);
    expect((await doomed.exited).signal).toBe('SIGKILL');

    // The database process the killed server started may take a moment to flush and go, keeping
    // the directory locked meanwhile (as a supervisor restarting at once would see): try again.
    for (let attempt = 0; ; attempt++) {
      try {
        server = await startServer({ ...env, ...tools });
        break;
      } catch (error) {
        if (attempt > 40 || !/DATABASE_LOCKED/.test(String(error))) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    // The default lease is 30 s; the embedded database's only instance resumes its turns at start.
    const restarted = performance.now();
    let transcript: Array<{ role: string }> = [];
    while (transcript.length < 4 && performance.now() - restarted < 15_000) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      transcript = (
        (await (await get(`${server.url}/v1/conversations/${session.conversationId}/messages`, adminToken)).json()) as {
          messages: Array<{ role: string }>;
        }
      ).messages;
    }
    expect(transcript.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(fs.readFileSync(effectLog, 'utf8').trim().split('\n')).toHaveLength(1);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });

  it('stops with a message naming the setting when the configuration is bad', async () => {
    const bad = runEntry('main', [], { ...env, PORT: 'eighty' });
    expect((await bad.exited).code).toBe(1);
    expect(bad.output()).toMatch(/CONFIG_INVALID: .*PORT/);
  });
});

describe('when the embedded database process dies', () => {
  it('the server exits with an error instead of serving 503s forever', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-main-'));
    fs.cpSync(inject('pgliteTemplate'), path.join(dataDir, 'pglite'), { recursive: true }); // skip initdb: tested above
    try {
      const server = await startServer({ AGENTRY_DATA_DIR: dataDir });
      const children = execFileSync('pgrep', ['-P', String(server.child.pid)])
        .toString()
        .trim()
        .split('\n');
      for (const pid of children) process.kill(Number(pid), 'SIGKILL');
      const { code } = await server.exited;
      expect(code).toBe(1);
      expect(server.output()).toMatch(/embedded database stopped/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
