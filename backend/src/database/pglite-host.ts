/**
 * The embedded database's own process. PGlite runs WebAssembly on whichever thread calls it, so a
 * long query would block the server's event loop; here it runs in a child process instead and is
 * exposed over the PostgreSQL wire protocol on a private Unix socket. The server reaches it with
 * the same `pg` Pool it uses for a PostgreSQL server, so both drivers share one code path
 * (pgvector values, type parsing, LISTEN/NOTIFY, transactions).
 *
 * Started only by pglite-launcher.ts, which holds the data directory's lock. Talks to its parent
 * over the IPC channel (see HostMessage / ParentMessage) and exits when the parent goes away.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { PGLITE_PG_MAJOR, type HostMessage, type ParentMessage } from './pglite-protocol.ts';

function send(message: HostMessage): void {
  process.send?.(message);
}

function checkMajorVersion(dataDir: string): void {
  const versionFile = path.join(dataDir, 'PG_VERSION');
  if (!fs.existsSync(versionFile)) return; // a new directory: PGlite initialises it
  const found = fs.readFileSync(versionFile, 'utf8').trim();
  if (found !== PGLITE_PG_MAJOR) {
    send({
      type: 'fatal',
      code: 'DATABASE_VERSION_MISMATCH',
      message:
        `The data directory ${dataDir} was written by PostgreSQL ${found}; this Agentry embeds PostgreSQL ${PGLITE_PG_MAJOR}. ` +
        `To upgrade: run "agentry backup <file>" with the Agentry release that wrote it, then "agentry restore <file>" ` +
        `with this release into an empty AGENTRY_DATA_DIR.`,
    });
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const dataDir = process.env.AGENTRY_PGLITE_DIR;
  const socketPath = process.env.AGENTRY_PGLITE_SOCKET;
  const maxConnections = Number(process.env.AGENTRY_PGLITE_MAX_CONNECTIONS ?? '16');
  if (!dataDir || !socketPath) throw new Error('pglite-host needs AGENTRY_PGLITE_DIR and AGENTRY_PGLITE_SOCKET');

  checkMajorVersion(dataDir);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = await PGlite.create(dataDir, { extensions: { vector } });
  const server = new PGLiteSocketServer({ db, path: socketPath, maxConnections });
  await server.start();

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await server.stop().catch(() => undefined);
      await db.close().catch(() => undefined);
    })());

  process.on('message', (message: ParentMessage) => {
    if (message.type === 'shutdown') {
      void close().then(() => {
        send({ type: 'closed' });
        process.exit(0);
      });
    } else if (message.type === 'dump') {
      void dump(db, message.file).then(
        () => send({ type: 'dumped', id: message.id }),
        (error: Error) => send({ type: 'dumped', id: message.id, error: error.message }),
      );
    }
  });
  // The parent owns shutdown. A terminal's Ctrl-C reaches the whole process group; this process
  // waits for the parent's word so in-flight requests can finish first.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  // The parent died without a word (killed, crashed): flush and go, releasing the socket.
  process.on('disconnect', () => void close().then(() => process.exit(0)));

  send({ type: 'ready', serverVersion: (await db.query<{ v: string }>('show server_version')).rows[0]?.v ?? '' });
}

/**
 * A portable plain-SQL dump (pg_dump compiled to WebAssembly), loadable into PGlite or a server.
 * pg_dump's queries share the one PGlite session with the socket's clients, so the parent asks for
 * a dump only while no client is working: before the server accepts requests, or from the CLI while
 * it holds the data directory's lock.
 */
async function dump(db: PGlite, file: string): Promise<void> {
  const { pgDump } = await import('@electric-sql/pglite-tools/pg_dump');
  const result = await pgDump({ pg: db, args: ['--inserts', '--no-owner', '--no-privileges', '--quote-all-identifiers'] });
  const tmp = `${file}.partial`;
  fs.writeFileSync(tmp, Buffer.from(await result.arrayBuffer()), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

main().catch((error: unknown) => {
  send({ type: 'fatal', code: 'DATABASE_UNAVAILABLE', message: `The embedded database could not start: ${(error as Error).message}` });
  process.exit(1);
});
