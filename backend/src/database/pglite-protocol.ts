/**
 * The messages between the server and its embedded-database process (pglite-host.ts), and the
 * PostgreSQL major version the pinned PGlite release embeds. PGlite's on-disk format follows that
 * major, so a data directory written by another one is refused rather than opened.
 */
export const PGLITE_PG_MAJOR = '18';

export type ParentMessage = { type: 'shutdown' } | { type: 'dump'; id: number; file: string };

export type HostMessage =
  | { type: 'ready'; serverVersion: string }
  | { type: 'fatal'; code: 'DATABASE_VERSION_MISMATCH' | 'DATABASE_UNAVAILABLE'; message: string }
  | { type: 'dumped'; id: number; error?: string }
  | { type: 'closed' };
