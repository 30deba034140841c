import { AppError } from '../errors.ts';
import { isUuid } from './uuid.ts';

/**
 * Keyset pagination cursors: (a time to the millisecond, a row id), opaque to clients. Lists order
 * by `date_trunc('milliseconds', <time>)` then id, so the cursor holds exactly what a JS Date can.
 */
export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
}

/** The cursor's time and id; 400 VALIDATION_FAILED for anything a client made up. */
export function decodeCursor(cursor: string): [Date, string] {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const date = new Date(at ?? '');
  if (Number.isNaN(date.getTime()) || !id || !isUuid(id)) throw new AppError('VALIDATION_FAILED', 'The cursor is not valid.');
  return [date, id];
}
