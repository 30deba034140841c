import { describe, expect, it } from 'vitest';
import { AppError, errorCodes } from '../errors.ts';
import { decodeCursor, encodeCursor } from './page-cursor.ts';

const id = '0f8fad5b-d9cb-469f-a165-70867728950e';

/** The error a made-up cursor answers with, or undefined when it is accepted. */
function refusal(cursor: string): AppError | undefined {
  try {
    decodeCursor(cursor);
    return undefined;
  } catch (error) {
    return error as AppError;
  }
}

describe('page cursors', () => {
  it('give back exactly the time, to the millisecond, and the id of the last row of a page', () => {
    const at = new Date('2025-03-09T12:34:56.789Z');
    const [decodedAt, decodedId] = decodeCursor(encodeCursor(at, id));
    expect(decodedAt.getTime()).toBe(at.getTime());
    expect(decodedId).toBe(id);
  });

  it('are opaque and safe in a query string without escaping', () => {
    const cursor = encodeCursor(new Date('2025-03-09T12:34:56.789Z'), id);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(cursor).not.toContain(id);
    expect(encodeURIComponent(cursor)).toBe(cursor);
  });

  it('tell two rows of the same millisecond apart by their id', () => {
    const at = new Date('2025-03-09T12:34:56.789Z');
    const other = 'a3bb189e-8bf9-4888-9912-ace4e6543002';
    expect(encodeCursor(at, id)).not.toBe(encodeCursor(at, other));
    expect(decodeCursor(encodeCursor(at, other))[1]).toBe(other);
  });

  it('refuse a cursor a client made up with 400 VALIDATION_FAILED, before it reaches the database', () => {
    const made = (text: string) => Buffer.from(text).toString('base64url');
    const madeUp = [
      '',
      'not a cursor',
      made('yesterday|' + id),
      made('2025-03-09T12:34:56.789Z'),
      made('2025-03-09T12:34:56.789Z|'),
      made('2025-03-09T12:34:56.789Z|42'),
      made("2025-03-09T12:34:56.789Z|' or 1=1 --"),
    ];
    for (const cursor of madeUp) {
      const error = refusal(cursor);
      expect(error, cursor).toBeInstanceOf(AppError);
      expect(error!.code).toBe('VALIDATION_FAILED');
      expect(errorCodes[error!.code].status).toBe(400);
    }
  });
});
