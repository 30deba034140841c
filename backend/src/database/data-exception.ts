import pg from 'pg';

/** What went wrong, in words, for the data exceptions a client's value can cause. */
const problems: Record<string, string> = {
  '22001': 'a text is longer than its field allows',
  '22003': 'a number is out of range',
  '22007': 'a date or time is not valid',
  '22008': 'a date or time is out of range',
  '22012': 'a number divides by zero',
  '22021': 'a text contains a NUL character or bytes that are not UTF-8',
  '22025': 'a search pattern ends in or contains an invalid escape',
  '2201B': 'a pattern is not a valid regular expression',
  '22P02': 'a value is not valid for its type (an id, a number or a date)',
  '22P05': 'a text contains a character the database cannot store',
};

/**
 * PostgreSQL's data exceptions (SQLSTATE class 22) are a value that does not fit its type: an id
 * that is not a UUID, year 0000, a number past its column's range, a NUL character in text. The
 * value came from the request, so the request is what is wrong: a client error, never the server's.
 *
 * Returns what went wrong, in words a client can act on, or undefined for any other error. Both
 * drivers reach the database through `pg` (PGlite over the wire protocol), so the SQLSTATE is
 * always the `code` of a `pg.DatabaseError`.
 */
export function dataExceptionOf(error: unknown): string | undefined {
  if (!(error instanceof pg.DatabaseError) || !error.code?.startsWith('22')) return undefined;
  return problems[error.code] ?? 'a value is not valid for its type';
}
