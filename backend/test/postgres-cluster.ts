import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A throwaway PostgreSQL server for the test suite, started from this machine's server binaries
 * (PostgreSQL refuses to run as root, so as root it runs as `nobody`). TEST_DATABASE_URL, when
 * set, is used instead: it must point at a database whose user may create databases.
 */
export interface PostgresCluster {
  /** A connection string to the maintenance database; suites create their own databases. */
  url: string;
  stop(): Promise<void>;
  /** `pg_ctl restart -m immediate`: every connection dies at once, as in a crash. */
  restart(): Promise<void>;
}

function findBinDir(): string {
  const candidates = fs.existsSync('/usr/lib/postgresql')
    ? fs
        .readdirSync('/usr/lib/postgresql')
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => `/usr/lib/postgresql/${v}/bin`)
    : [];
  const onPath = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (onPath.status === 0) candidates.push(onPath.stdout.trim());
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'pg_ctl')));
  if (!found)
    throw new Error(
      'No PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and pg_config --bindir). Install postgresql, or set TEST_DATABASE_URL.',
    );
  return found;
}

/** A TCP port on 127.0.0.1 that nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * `durableCommits` keeps synchronous commits on, for tests that crash the server: by default a
 * commit returns before its WAL is written, which is fast and fine for anything that never
 * restarts PostgreSQL.
 */
export async function startPostgresCluster(options: { durableCommits?: boolean } = {}): Promise<PostgresCluster> {
  if (process.env.TEST_DATABASE_URL) {
    return {
      url: process.env.TEST_DATABASE_URL,
      stop: async () => undefined,
      restart: () => Promise.reject(new Error('cannot restart the server TEST_DATABASE_URL names')),
    };
  }
  const bin = findBinDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentry-pg-'));
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot
    ? { uid: Number(execFileSync('id', ['-u', 'nobody']).toString()), gid: Number(execFileSync('id', ['-g', 'nobody']).toString()) }
    : undefined;
  if (owner) fs.chownSync(dir, owner.uid, owner.gid);
  const run = (cmd: string, args: string[]) =>
    execFileSync(path.join(bin, cmd), args, { ...(owner ?? {}), cwd: dir, stdio: 'pipe', env: { ...process.env, LC_ALL: 'C' } });
  const data = path.join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    `-c synchronous_commit=${options.durableCommits ? 'on' : 'off'}`,
    '-c full_page_writes=off',
    '-c max_connections=400',
  ].join(' ');
  run('pg_ctl', ['-D', data, '-o', settings, '-l', path.join(dir, 'server.log'), '-w', 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async restart() {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-o', settings, '-l', path.join(dir, 'server.log'), '-w', 'restart']);
    },
    async stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
